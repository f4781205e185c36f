// Package deploy holds no code: its tests check the deployment files beside them, the ways to
// run a sharded sweep on many machines.
//
//   - slurm/: a Slurm job array, one task per shard (sweep.sbatch), and a merge job that runs
//     once every shard succeeded (merge.sbatch); submit.sh submits both. TestSlurmArraySweep
//     starts a single-node Slurm on localhost (munged, slurmctld and slurmd from Debian's
//     slurm-wlm and munge, by pid, in a temporary directory), runs a 4-shard sweep as an array
//     and checks the merged summary equals the unsharded sweep of the same seeds.
//   - k8s/ and Dockerfile: a Kubernetes Indexed Job. TestKubernetesManifests validates the
//     manifests offline with kubectl and runs the pods' command locally.
//
// The tests skip, saying why, where Slurm or kubectl is not installed (or not as root, which
// slurmd needs); CI sets MSGRSIM_REQUIRE_SLURM and MSGRSIM_REQUIRE_KUBECTL so they cannot.
package deploy
