# lib.sh — what the lab's monitor scripts share; sourced, not run.

# mon_global_conf DIR FSID MON_HOST AUTH prints the [global] section every throw-away monitor
# here uses: msgr1 only, IPv4, AUTH (none or cephx) required everywhere, all state under DIR.
# Global-id reclaim stays insecure-allowed with auth none only (there is nothing to reclaim
# securely without tickets).
mon_global_conf() {
  local dir=$1 fsid=$2 hosts=$3 auth=$4 reclaim=true
  [[ $auth == cephx ]] && reclaim=false
  cat <<CONF
[global]
fsid = $fsid
mon_host = $hosts
ms_bind_msgr1 = true
ms_bind_msgr2 = false
ms_bind_ipv6 = false
auth_cluster_required = $auth
auth_service_required = $auth
auth_client_required = $auth
auth_allow_insecure_global_id_reclaim = $reclaim
mon_warn_on_insecure_global_id_reclaim = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
run_dir = $dir/run
admin_socket = $dir/run/\$cluster-\$name.asok
log_file = $dir/\$cluster-\$name.log
mon_cluster_log_file = $dir/\$cluster.clog
pid_file = $dir/mon.\$id.pid
keyring = $dir/keyring
mon_data = $dir/mon-\$id
crash_dir = $dir/crash
mon_data_avail_warn = 1
mon_data_avail_crit = 0
CONF
}
