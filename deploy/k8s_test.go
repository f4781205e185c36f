package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const manifest = "k8s/sweep-job.yaml"

// The Kubernetes Indexed Job, checked offline (no cluster here): kubectl parses every object,
// decodes the Job into its typed API struct (a field of the wrong type fails; a misspelt field
// would be dropped, so the typed Job must keep every field of the file), the objects fit
// together (the claim the Job mounts exists, the shards equal the completions), and the pods'
// command, run here with the file's environment, writes shards that merge into the unsharded
// sweep.
//
// `kubectl create --dry-run=client` and `kubectl apply --dry-run=client` cannot do this offline:
// both ask an API server which resources exist. `--local` commands decode without one.
func TestKubernetesManifests(t *testing.T) {
	kubectl := kubectlTool(t)
	objs := kubectl(t, "label", "--local", "-f", manifest, "msgrsim-validated=true", "-o", "json")
	byKind := map[string]map[string]any{}
	for _, o := range objs {
		delete(field(o, "metadata", "labels").(map[string]any), "msgrsim-validated")
		if len(field(o, "metadata", "labels").(map[string]any)) == 0 {
			delete(field(o, "metadata").(map[string]any), "labels")
		}
		byKind[fmt.Sprint(o["kind"])] = o
	}
	job, pvc := byKind["Job"], byKind["PersistentVolumeClaim"]
	if len(objs) != 2 || job == nil || pvc == nil {
		t.Fatalf("%s: want a Job and a PersistentVolumeClaim, got %d objects: %v", manifest, len(objs), slices.Collect(maps.Keys(byKind)))
	}

	// The typed round trip. kubectl prints only objects it changed: set the image to another,
	// then put the file's back.
	jobFile := filepath.Join(t.TempDir(), "job.json")
	data, _ := json.Marshal(job)
	if err := os.WriteFile(jobFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := container(t, job)
	typed := kubectl(t, "set", "image", "--local", "-f", jobFile, fmt.Sprintf("%s=validated", c["name"]), "-o", "json")
	if len(typed) != 1 || container(t, typed[0])["image"] != "validated" {
		t.Fatalf("kubectl set image: %d objects: %v", len(typed), typed)
	}
	container(t, typed[0])["image"] = c["image"]
	minor := kubectlMinor(t, kubectl)
	for _, lost := range lostFields("", job, typed[0]) {
		if since, ok := newerFields[lost]; ok && minor < since {
			t.Logf("%s: not checked: kubectl 1.%d predates it (Kubernetes 1.%d)", lost, minor, since)
			continue
		}
		t.Errorf("%s: %s is not a field of a batch/v1 Job (kubectl 1.%d dropped it)", manifest, lost, minor)
	}

	checkJobFitsTogether(t, job, pvc)
	runPodsCommand(t, job)
}

// newerFields are the Job's fields that an older kubectl does not know, by the minor version
// of Kubernetes that made them stable; the Job needs that version. Debian 12's kubectl
// (kubernetes-client) is 1.20, older than Indexed Jobs.
var newerFields = map[string]int{".spec.completionMode": 24}

// kubectlMinor is kubectl's minor version ("32+" counts as 32).
func kubectlMinor(t *testing.T, kubectl func(*testing.T, ...string) []map[string]any) int {
	t.Helper()
	v := kubectl(t, "version", "--client", "-o", "json")
	minor := strings.TrimRight(fmt.Sprint(field(v[0], "clientVersion", "minor")), "+")
	n, err := strconv.Atoi(minor)
	if len(v) != 1 || err != nil || field(v[0], "clientVersion", "major") != "1" {
		t.Fatalf("kubectl version --client: %v", v)
	}
	return n
}

// kubectlTool returns a function running kubectl offline (an empty kubeconfig, a scratch
// HOME) that decodes the JSON objects it prints; or skips when kubectl is not installed.
func kubectlTool(t *testing.T) func(*testing.T, ...string) []map[string]any {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		require(t, "MSGRSIM_REQUIRE_KUBECTL", "kubectl is not installed (Debian: apt-get install kubernetes-client): the Kubernetes manifests are not validated")
	}
	home := t.TempDir()
	kubeconfig := filepath.Join(home, "config")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, args ...string) []map[string]any {
		t.Helper()
		cmd := exec.Command(path, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+home)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		// One object, a stream of them, or a List.
		var objs []map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var o map[string]any
			if err := dec.Decode(&o); err != nil {
				t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if items, ok := o["items"].([]any); ok && o["kind"] == "List" {
				for _, it := range items {
					objs = append(objs, it.(map[string]any))
				}
				continue
			}
			objs = append(objs, o)
		}
		return objs
	}
}

// lostFields lists the paths of file's values that typed lacks or holds otherwise.
func lostFields(path string, file, typed any) []string {
	switch f := file.(type) {
	case map[string]any:
		tm, ok := typed.(map[string]any)
		if !ok {
			return []string{path}
		}
		var lost []string
		for _, k := range slices.Sorted(maps.Keys(f)) {
			lost = append(lost, lostFields(path+"."+k, f[k], tm[k])...)
		}
		return lost
	case []any:
		ta, ok := typed.([]any)
		if !ok || len(ta) != len(f) {
			return []string{path}
		}
		var lost []string
		for i := range f {
			lost = append(lost, lostFields(path+"["+strconv.Itoa(i)+"]", f[i], ta[i])...)
		}
		return lost
	}
	if !reflect.DeepEqual(file, typed) {
		return []string{path}
	}
	return nil
}

// checkJobFitsTogether checks what no schema says: the Job's pods write shard files to the
// claim the file defines, shared by all of them, and cover every shard once.
func checkJobFitsTogether(t *testing.T, job, pvc map[string]any) {
	t.Helper()
	spec := field(job, "spec").(map[string]any)
	c := container(t, job)
	env := containerEnv(c)
	shards, err := strconv.Atoi(env["SHARDS"])
	if err != nil || spec["completionMode"] != "Indexed" || spec["completions"] != float64(shards) {
		t.Errorf("an Indexed Job of SHARDS=%q completions, one per shard: completionMode %v, completions %v",
			env["SHARDS"], spec["completionMode"], spec["completions"])
	}
	if p, ok := spec["parallelism"].(float64); ok && p > float64(shards) {
		t.Errorf("parallelism %v exceeds the %d shards", p, shards)
	}
	if r := field(job, "spec", "template", "spec", "restartPolicy"); r != "Never" {
		t.Errorf("restartPolicy %v: a pod that failed must not rerun its shard behind the Job's back", r)
	}
	var claim string
	for _, v := range field(job, "spec", "template", "spec", "volumes").([]any) {
		if name := field(v, "persistentVolumeClaim", "claimName"); name != nil {
			claim = fmt.Sprint(name)
		}
	}
	if name := field(pvc, "metadata", "name"); claim == "" || claim != name {
		t.Errorf("the Job mounts claim %q, the file defines %v", claim, name)
	}
	if modes := field(pvc, "spec", "accessModes"); !slices.Contains(modes.([]any), any("ReadWriteMany")) {
		t.Errorf("claim access modes %v: every pod writes to it at once, so ReadWriteMany", modes)
	}
	mounts := c["volumeMounts"].([]any)
	if len(mounts) != 1 || !strings.Contains(podScript(t, c), fmt.Sprint(field(mounts[0], "mountPath"))+"/shard-$JOB_COMPLETION_INDEX.json") {
		t.Errorf("the pods must write shard-$JOB_COMPLETION_INDEX.json to the mounted claim (%v): %s", mounts, podScript(t, c))
	}
}

// runPodsCommand runs the pods' shell command here, as two pods of a two-shard Job over a few
// seeds would, with the results volume a scratch directory, and merges what they wrote.
func runPodsCommand(t *testing.T, job map[string]any) {
	t.Helper()
	bin := msgrSim(t)
	c := container(t, job)
	mount := fmt.Sprint(field(c["volumeMounts"].([]any)[0], "mountPath"))
	dir := t.TempDir()
	script := strings.ReplaceAll(podScript(t, c), mount+"/", dir+"/")
	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "TMPDIR="+dir, "MSGRSIM_CANARY="+canary)
	for k, v := range containerEnv(c) {
		env = append(env, k+"="+v)
	}
	const seeds, shards = "1-8", 2
	env = append(env, "SEEDS="+seeds, "SHARDS="+strconv.Itoa(shards))
	cmdline := c["command"].([]any)
	files := []string{}
	for i := range shards {
		cmd := exec.Command(fmt.Sprint(cmdline[0]), append(toStrings(cmdline[1:]), script)...)
		cmd.Env = append(slices.Clip(env), "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pod %d's command: %v\n%s", i, err, out)
		}
		files = append(files, filepath.Join(dir, fmt.Sprintf("shard-%d.json", i)))
	}
	merged, unsharded := filepath.Join(dir, "merged.txt"), filepath.Join(dir, "unsharded.txt")
	runTo(t, merged, bin, append([]string{"merge"}, files...)...)
	runTo(t, unsharded, bin, "sweep", "-seeds", seeds, "-canary", canary, "-json")
	sameSweep(t, "the pods' merged shards", lastJSON(t, merged), lastJSON(t, unsharded))
	// Some seeds fail (a pod whose sweep exits 1 still succeeds), some pass.
	if n, failing := seedsOf(t, lastJSON(t, unsharded)); n != 8 || len(failing) == 0 || len(failing) == n {
		t.Fatalf("unsharded sweep of %s with canary %s: %d seeds, failing %v: want both outcomes", seeds, canary, n, failing)
	}
}

// runTo runs msgr-sim with its stdout in out; exit 1 (failing seeds found) is a result.
func runTo(t *testing.T, out, bin string, args ...string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout = f
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Dir(out))
	if err := cmd.Run(); err != nil && exitCode(err) != 1 {
		t.Fatalf("msgr-sim %v: %v", args, err)
	}
}

func podScript(t *testing.T, c map[string]any) string {
	t.Helper()
	cmd, args := c["command"].([]any), c["args"].([]any)
	if len(cmd) != 2 || cmd[1] != "-c" || len(args) != 1 {
		t.Fatalf("the container runs %v %v: want a shell script, [sh -c] [script]", cmd, args)
	}
	return fmt.Sprint(args[0])
}

func container(t *testing.T, job map[string]any) map[string]any {
	t.Helper()
	cs, _ := field(job, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("the Job's pods run %d containers, want 1", len(cs))
	}
	return cs[0].(map[string]any)
}

func containerEnv(c map[string]any) map[string]string {
	env := map[string]string{}
	list, _ := c["env"].([]any)
	for _, e := range list {
		env[fmt.Sprint(field(e, "name"))] = fmt.Sprint(field(e, "value"))
	}
	return env
}

// field walks maps by key; nil where a key is missing.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func toStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprint(v)
	}
	return out
}
