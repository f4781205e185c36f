//go:build linux

package deploy

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The sharded sweep on a real engine: deploy/slurm/submit.sh submits a 4-task job array
// (sweep.sbatch, one shard each) and the merge job (merge.sbatch, --dependency=afterok) to a
// single-node Slurm this test starts on localhost; the merged summary must equal the unsharded
// sweep of the same seeds in every field but timing (counts, failing seeds and their
// violations, faults fired, phases, protocol coverage), and each shard must have run its own
// seeds. A sweep whose shards fail must not be merged. (Sweep summaries carry no per-seed
// trace hashes; the coverage counts are what would differ if a seed ran otherwise.)
func TestSlurmArraySweep(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a single-node Slurm cluster")
	}
	bins := slurmTools(t)
	bin := msgrSim(t)
	c := startSlurm(t, bins)

	const seeds, shards = "1-40", 4
	results := filepath.Join(c.dir, "results")
	began := time.Now()
	array, merge := c.submit(t, results, seeds, shards, "-canary "+canary)

	// The unsharded sweep of the same seeds, here, while the array runs.
	unshardedOut := filepath.Join(c.dir, "unsharded.json")
	ref := c.sweepLocally(t, bin, unshardedOut, "sweep", "-seeds", seeds, "-canary", canary, "-parallel", "1", "-json")
	c.wait(t, 3*time.Minute, array, merge)
	if err := ref.Wait(); err != nil && exitCode(err) != 1 {
		t.Fatalf("unsharded sweep: %v", err)
	}
	t.Logf("array of %d shards and the merge ran in %v", shards, time.Since(began).Round(time.Millisecond))
	for _, id := range []string{array, merge} {
		for _, s := range c.jobStates(t, id) {
			if s != "COMPLETED 0:0" {
				t.Fatalf("job %s: %s, want COMPLETED 0:0\n%s", id, s, c.logs(results))
			}
		}
	}
	if n := len(c.jobStates(t, array)); n != shards {
		t.Fatalf("job array %s ran %d tasks, want %d", array, n, shards)
	}

	unsharded := lastJSON(t, unshardedOut)
	n, failing := seedsOf(t, unsharded)
	if n != 40 || len(failing) == 0 || len(failing) == n {
		t.Fatalf("the unsharded sweep ran %d seeds, %d failed: want 40 with both outcomes (canary %s)", n, len(failing), canary)
	}
	checkShards(t, results, shards, failing)
	sameSweep(t, "the merge job's summary (merged.txt)", lastJSON(t, filepath.Join(results, "merged.txt")), unsharded)

	// The shards merged here too, as a user would after fetching them.
	shardFiles := make([]string, shards)
	for i := range shards {
		shardFiles[i] = filepath.Join(results, fmt.Sprintf("shard-%d.json", i))
	}
	mergedHere := filepath.Join(c.dir, "merged-here.txt")
	if err := c.sweepLocally(t, bin, mergedHere, append([]string{"merge"}, shardFiles...)...).Wait(); err != nil && exitCode(err) != 1 {
		t.Fatalf("msgr-sim merge: %v", err)
	}
	sameSweep(t, "msgr-sim merge of the shards", lastJSON(t, mergedHere), unsharded)

	t.Run("FailedShardIsNotMerged", func(t *testing.T) {
		bad := filepath.Join(c.dir, "bad")
		array, merge := c.submit(t, bad, "1-8", 2, "-no-such-flag")
		c.wait(t, 2*time.Minute, array, merge)
		for _, s := range c.jobStates(t, array) {
			if !strings.HasPrefix(s, "FAILED 2:") {
				t.Errorf("array %s task: %s, want FAILED with msgr-sim's usage exit 2", array, s)
			}
		}
		if s := c.jobStates(t, merge); len(s) != 1 || !strings.HasPrefix(s[0], "CANCELLED") {
			t.Errorf("merge job %s: %v, want CANCELLED (its dependency can never be satisfied)", merge, s)
		}
		for _, name := range []string{"shard-0.json", "shard-1.json", "merged.txt"} {
			if _, err := os.Stat(filepath.Join(bad, name)); err == nil {
				t.Errorf("%s written by a failed sweep", name)
			}
		}
	})
}

// checkShards checks each shard's summary: shard i ran every shards-th seed from the i-th,
// so it ran a quarter of the seeds and only its own seeds failed.
func checkShards(t *testing.T, results string, shards int, failing []int) {
	t.Helper()
	for i := range shards {
		s := lastJSON(t, filepath.Join(results, fmt.Sprintf("shard-%d.json", i)))
		n, f := seedsOf(t, s)
		var want []int
		for _, seed := range failing {
			if (seed-1)%shards == i {
				want = append(want, seed)
			}
		}
		if n != 40/shards || !slices.Equal(f, want) {
			t.Errorf("shard %d: %d seeds, failing %v; want %d seeds, failing %v", i, n, f, 40/shards, want)
		}
	}
}

// slurmTools finds the daemons and commands, or skips saying what is missing.
func slurmTools(t *testing.T) map[string]string {
	t.Helper()
	const env = "MSGRSIM_REQUIRE_SLURM"
	bins := map[string]string{}
	var missing []string
	for _, name := range []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo"} {
		if p, err := lookPath(name); err == nil {
			bins[name] = p
		} else {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		require(t, env, fmt.Sprintf("Slurm is not installed (no %s): apt-get install slurm-wlm munge", strings.Join(missing, ", ")))
	}
	if os.Geteuid() != 0 {
		require(t, env, "not root: slurmd starts jobs as their users and runs only as root")
	}
	return bins
}

// lookPath also looks in the sbin directories, which a user's PATH may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// cluster is a single-node Slurm on localhost: munged, slurmctld and slurmd, all children of
// the test, configured and logging in dir.
type cluster struct {
	dir     string
	bins    map[string]string
	env     []string // the clients' and jobs' environment: SLURM_CONF, no outer SLURM_*
	daemons []*daemon
}

type daemon struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startSlurm starts the cluster and waits until its node takes jobs. Everything it starts is
// stopped, by pid, when the test ends, however it ends.
func startSlurm(t *testing.T, bins map[string]string) *cluster {
	dir, err := os.MkdirTemp("", "msgrsim-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{dir: dir, bins: bins}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", c.logs(""))
		}
		os.RemoveAll(dir)
	})
	t.Cleanup(func() { c.stop(t) })
	// Adopt the processes the daemons leave behind (slurmstepd detaches from slurmd): when
	// their parent exits they become the test's children, so stop can find and end them.
	if err := setChildSubreaper(); err != nil {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	c.env = []string{"SLURM_CONF=" + filepath.Join(dir, "slurm.conf"), "TMPDIR=" + filepath.Join(dir, "tmp")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_") && !strings.HasPrefix(kv, "TMPDIR=") {
			c.env = append(c.env, kv)
		}
	}
	// munged wants its socket's directories searchable by all, its key private.
	for _, d := range []struct {
		name string
		perm os.FileMode
	}{{".", 0o755}, {"sock", 0o755}, {"munge", 0o700}, {"log", 0o755}, {"state", 0o700}, {"spool", 0o755}, {"tmp", 0o1777}} {
		p := filepath.Join(dir, d.name)
		if err := os.MkdirAll(p, d.perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.perm); err != nil {
			t.Fatal(err)
		}
	}
	c.startMunge(t)
	if err := os.WriteFile(filepath.Join(dir, "slurm.conf"), []byte(c.conf(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.start(t, "slurmctld", "-D", "-i", "-f", filepath.Join(dir, "slurm.conf"))
	c.start(t, "slurmd", "-D", "-N", "localhost", "-f", filepath.Join(dir, "slurm.conf"))
	began := time.Now()
	c.waitIdle(t, time.Minute)
	t.Logf("single-node Slurm up in %v (%s)", time.Since(began).Round(time.Millisecond), dir)
	return c
}

func (c *cluster) startMunge(t *testing.T) {
	t.Helper()
	key := make([]byte, 1024)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(c.dir, "munge", "munge.key")
	if err := os.WriteFile(keyFile, key, 0o400); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(c.dir, "sock", "munge.sock")
	c.start(t, "munged", "--foreground", "--key-file="+keyFile, "--socket="+sock,
		"--pid-file="+filepath.Join(c.dir, "sock", "munged.pid"), "--seed-file="+filepath.Join(c.dir, "munge", "seed"),
		"--log-file="+filepath.Join(c.dir, "log", "munged.log"))
	c.poll(t, 10*time.Second, "munged's socket", func() (bool, string) {
		_, err := os.Stat(sock)
		return err == nil, fmt.Sprint(err)
	})
}

// conf is slurm.conf: this machine's CPUs and memory as the only node, no cgroups, no
// accounting, every file in the cluster's directory, ports that were free a moment ago.
func (c *cluster) conf(t *testing.T) string {
	t.Helper()
	d := c.dir
	return fmt.Sprintf(`ClusterName=msgrsimtest
SlurmctldHost=localhost
SlurmctldPort=%d
SlurmdPort=%d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=%s/sock/munge.sock
StateSaveLocation=%s/state
SlurmdSpoolDir=%s/spool/%%n
SlurmctldPidFile=%s/slurmctld.pid
SlurmdPidFile=%s/slurmd.pid
SlurmctldLogFile=%s/log/slurmctld.log
SlurmdLogFile=%s/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
NodeName=localhost CPUs=%d RealMemory=%d State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
`, freePort(t), freePort(t), d, d, d, d, d, d, d, runtime.NumCPU(), memoryMB(t)*9/10)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// memoryMB is the machine's memory (slurmd drains a node that has less than configured).
func memoryMB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("/proc/meminfo: %q: %v", line, err)
			}
			return kb / 1024
		}
	}
	t.Fatal("/proc/meminfo has no MemTotal")
	return 0
}

// start runs a daemon in the foreground, its output in log/NAME.out. The kernel kills it if
// the test process dies first.
func (c *cluster) start(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(c.dir, "log", name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.bins[name], args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.dir, c.env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	d := &daemon{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		out.Close()
		close(d.exited)
	}()
	c.daemons = append(c.daemons, d)
}

// stop ends the jobs, then the daemons in reverse order (SIGTERM, SIGKILL after 15 s), then
// whatever they left behind, and fails the test if any process it started survives.
func (c *cluster) stop(t *testing.T) {
	if len(c.daemons) == 3 {
		if out, err := c.run("scancel", "--user=root"); err != nil {
			t.Logf("scancel: %v: %s", err, out)
		}
	}
	for i := len(c.daemons) - 1; i >= 0; i-- {
		d := c.daemons[i]
		select {
		case <-d.exited:
			t.Logf("%s (pid %d) had exited: %v", d.name, d.cmd.Process.Pid, d.cmd.ProcessState)
			continue
		default:
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(15 * time.Second):
			t.Errorf("%s (pid %d) ignored SIGTERM for 15 s: killed", d.name, d.cmd.Process.Pid)
			d.cmd.Process.Kill()
			<-d.exited
		}
	}
	if left := reapDescendants(5 * time.Second); len(left) > 0 {
		t.Errorf("processes left behind that SIGKILL did not end: %v", left)
	}
}

// reapDescendants kills (SIGKILL, by pid) every process below the test process and reaps those
// it adopted, until none is left or the time is up; it returns what is left.
func reapDescendants(limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		left := descendants(os.Getpid())
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, pid := range left {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, syscall.WNOHANG, nil) // our child (adopted) or not: ECHILD
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// descendants lists the processes below root (children, theirs, …) from /proc.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 {
			continue
		}
		// After "pid (comm)": state, then the parent's pid.
		if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

func setChildSubreaper() error {
	const prSetChildSubreaper = 36 // linux/prctl.h
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

// run runs a Slurm client command against the cluster.
func (c *cluster) run(name string, args ...string) (string, error) {
	cmd := exec.Command(c.bins[name], args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cluster) poll(t *testing.T, limit time.Duration, what string, ready func() (bool, string)) {
	t.Helper()
	// Fail (and stop the cluster) before go test's -timeout kills the process without cleanups.
	if d, ok := t.Deadline(); ok {
		limit = min(limit, max(time.Until(d)-30*time.Second, time.Second))
	}
	deadline := time.Now().Add(limit)
	for {
		ok, state := ready()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v: %s\n%s", what, limit, state, c.logs(""))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitIdle waits until the node takes jobs.
func (c *cluster) waitIdle(t *testing.T, limit time.Duration) {
	t.Helper()
	c.poll(t, limit, "the Slurm node", func() (bool, string) {
		out, err := c.run("sinfo", "--noheader", "--Node", "--format=%T")
		return err == nil && strings.TrimSpace(out) == "idle", fmt.Sprintf("sinfo: %q %v", out, err)
	})
}

// submit runs deploy/slurm/submit.sh: a sweep of seeds in shards array tasks, then its merge.
// It returns the two job ids.
func (c *cluster) submit(t *testing.T, results, seeds string, shards int, sweepFlags string) (array, merge string) {
	t.Helper()
	cmd := exec.Command("slurm/submit.sh", "--cpus-per-task=1") // two shards at once on two CPUs
	cmd.Env = append(slices.Clip(c.env), "SEEDS="+seeds, "SHARDS="+strconv.Itoa(shards), "RESULTS="+results,
		"MSGR_SIM="+msgrSim(t), "SWEEP_FLAGS="+sweepFlags, "PATH="+filepath.Dir(c.bins["sbatch"])+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	ids := strings.Fields(string(out))
	if err != nil || len(ids) != 2 {
		t.Fatalf("submit.sh: %v\n%s", err, out)
	}
	return ids[0], ids[1]
}

// wait waits until the jobs have left the queue.
func (c *cluster) wait(t *testing.T, limit time.Duration, ids ...string) {
	t.Helper()
	c.poll(t, limit, "jobs "+strings.Join(ids, ","), func() (bool, string) {
		out, err := c.run("squeue", "--noheader", "--jobs="+strings.Join(ids, ","), "--format=%i %T %r")
		return err == nil && strings.TrimSpace(out) == "", fmt.Sprintf("squeue: %s %v", out, err)
	})
}

// jobStates returns "STATE EXIT:SIGNAL" of a job, or of each task of a job array.
func (c *cluster) jobStates(t *testing.T, id string) []string {
	t.Helper()
	out, err := c.run("scontrol", "--oneliner", "show", "job", id)
	if err != nil {
		t.Fatalf("scontrol show job %s: %v\n%s", id, err, out)
	}
	var states []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var state, exit string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "JobState="); ok {
				state = v
			} else if v, ok := strings.CutPrefix(f, "ExitCode="); ok {
				exit = v
			}
		}
		states = append(states, state+" "+exit)
	}
	return states
}

// sweepLocally starts msgr-sim here (not under Slurm), its stdout in out.
func (c *cluster) sweepLocally(t *testing.T, bin, out string, args ...string) *exec.Cmd {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	errFile, err := os.Create(out + ".stderr")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, f, errFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); errFile.Close() })
	return cmd
}

// logs returns the tails of the daemons' logs and of the jobs' logs in results.
func (c *cluster) logs(results string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(c.dir, "log", "*"))
	if results != "" {
		more, _ := filepath.Glob(filepath.Join(results, "*.log"))
		files = append(files, more...)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "== %s\n%s\n", f, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return b.String()
}
