package cephx

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

const testKey = "AQC5+xRrbFXjJRAAf/YqnV4vPYnKu/wkckh3Cw=="

func TestParseKeyringBasics(t *testing.T) {
	text := "# written by hand\n[mon.]\n\tkey = " + testKey + "\n\tcaps mon = \"allow *\"\n" +
		"[client.admin] ; the admin\n\tkey = \"" + testKey + "\"\n\tcaps_osd = 'allow rw'\n\tcaps   mgr = allow r  # comment\n\n" +
		"[global]\n\tfoo = bar\n"
	kr, err := ParseKeyring([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(kr.Entries) != 2 || kr.Entries[0].Name != monDot || kr.Entries[1].Name != clientAdmin {
		t.Fatalf("entries %+v", kr.Entries)
	}
	admin := kr.Entries[1]
	want := map[string]string{"osd": "allow rw", "mgr": "allow r"}
	if len(admin.Caps) != 2 || admin.Caps["osd"] != want["osd"] || admin.Caps["mgr"] != want["mgr"] {
		t.Errorf("caps %q", admin.Caps)
	}
	if admin.Key.String() != testKey || admin.Key.Type != KeyAES || len(admin.Key.Secret) != 16 {
		t.Errorf("key %v", admin.Key)
	}
	if _, err := kr.Key(wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "0"}); !errors.Is(err, ErrKeyring) {
		t.Errorf("Key(osd.0) = %v", err)
	}
}

func TestParseKeyringErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"no final newline", "[client.admin]\n\tkey = " + testKey, "end of line"},
		{"indented heading", " [client.admin]\n\tkey = " + testKey + "\n", "end of input"},
		{"unterminated quote", "[client.admin]\n\tkey = \"" + testKey + "\n", "closing"},
		{"comment in quotes", "[client.admin]\n\tcaps mon = \"allow #x\"\n", "closing"},
		{"unknown setting", "[client.admin]\n\tfoo = 1\n", "unknown setting"},
		{"bad type", "[bogus.admin]\n\tkey = " + testKey + "\n", "unknown type"},
		{"no dot", "[admin]\n\tkey = " + testKey + "\n", "no '.'"},
		{"short key", "[client.admin]\n\tkey = AQ==\n", "bad key encoding"},
		{"bad base64", "[client.admin]\n\tkey = AQ?C\n", "bad key encoding"},
		{"empty heading", "[]\n", "section name"},
		{"invalid utf-8", "[client.admin]\n\tcaps mon = \xff\n", "UTF-8"},
		{"two bare lines", "a = 1\nb = 2\n", "end of input"},
	} {
		_, err := ParseKeyring([]byte(tc.text))
		if !errors.Is(err, ErrKeyring) && !errors.Is(err, ErrKeyBase64) {
			t.Errorf("%s: %v, want a keyring error", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestParseKeyUnarmor(t *testing.T) {
	k, err := ParseKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{testKey + "garbage", "\n" + testKey[:8] + "\n" + testKey[8:], testKey[:len(testKey)-2] + "=A"} {
		k2, err := ParseKey(s)
		if err != nil || !k2.Equal(k) || k2.Created != k.Created {
			t.Errorf("ParseKey(%q) = %v %v, want the same key (Ceph stops at padding, skips newlines)", s, k2, err)
		}
	}
	for _, s := range []string{"", testKey[:len(testKey)-1], "AQC5+xRr bFXj", "AQC5-xRr"} {
		if _, err := ParseKey(s); !errors.Is(err, ErrKeyBase64) {
			t.Errorf("ParseKey(%q) = %v, want ErrKeyBase64", s, err)
		}
	}
	short := Key{Type: KeyAES, Secret: make([]byte, 15)}.String()
	unknown := Key{Type: 2, Secret: make([]byte, 16)}.String()
	empty := Key{Type: 9}.String()
	if _, err := ParseKey(short); err == nil {
		t.Error("a 15-byte AES secret parsed")
	}
	if _, err := ParseKey(unknown); err == nil {
		t.Error("key type 2 parsed")
	}
	if k, err := ParseKey(empty); err != nil || !k.IsZero() {
		t.Errorf("empty key of type 9: %v %v (Ceph accepts any type without a secret)", k, err)
	}
}

// requireAuthtool skips (loudly) without ceph-authtool, unless MSGRSIM_REQUIRE_CEPH is set.
func requireAuthtool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ceph-authtool"); err != nil {
		if os.Getenv("MSGRSIM_REQUIRE_CEPH") != "" {
			t.Fatal("ceph-authtool not installed")
		}
		t.Skip("SKIPPING CEPH TEST: ceph-authtool not installed (apt-get install ceph-common)")
	}
}

// authtoolList runs ceph-authtool -l on a keyring text: what it prints and whether it read it.
func authtoolList(t *testing.T, dir, text string) (string, bool) {
	t.Helper()
	f := filepath.Join(dir, "k")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ceph-authtool", "-l", f).Output()
	return string(out), err == nil
}

// cephPrint prints a keyring as KeyRing::print does (which escapes only '"'), without
// Format's checks.
func cephPrint(kr *Keyring) string {
	var sb strings.Builder
	for _, e := range kr.Entries {
		fmt.Fprintf(&sb, "[%s]\n\tkey = %s\n", e.Name, e.Key)
		caps := make([]string, 0, len(e.Caps))
		for s := range e.Caps {
			caps = append(caps, s)
		}
		slices.Sort(caps)
		for _, s := range caps {
			fmt.Fprintf(&sb, "\tcaps %s = \"%s\"\n", s, strings.ReplaceAll(e.Caps[s], `"`, `\"`))
		}
	}
	return sb.String()
}

// keyringCorpus are keyring texts for the differential test: each is read by ceph-authtool
// and by ParseKeyring, which must agree on whether it is a keyring and on what it holds.
var keyringCorpus = []string{
	"[client.admin]\n\tkey = K\n",
	"[client.admin]\n\tkey = K",
	" [client.admin]\n\tkey = K\n",
	"  \n[client.admin]\n\tkey = K\n",
	"\n\n[client.admin]\n\tkey = K\n",
	"# c\n; c\n[client.admin] # x\n\tkey = K ; trailing\n",
	"[client.admin]\n\tkey = \"K\"\n\tcaps mon = 'allow *'\n",
	"[client.admin]\n\tkey = K\n\tcaps mon = \"allow #x\"\n",
	"[client.admin]\n\tkey = K\n\tcaps mon = allow \\#x\n",
	"[client.admin]\n\tkey = K\n\tauid = 5\n",
	"[client.admin]\n\tkey = K\n\tauid = junk\n",
	"[client.admin]\n\tkey = K\n\tfoo = 5\n",
	"[any.x]\n\tkey = K\n",
	"[foo.x]\n\tkey = K\n",
	"[admin]\n\tkey = K\n",
	"[client.]\n\tkey = K\n",
	"[mon.]\n\tkey = K\n[osd.0]\n\tkey = K\n[client.b]\n\tkey = K\n[mgr.x]\n\tkey = K\n[mds.a]\n\tkey = K\n[auth.z]\n\tkey = K\n",
	"[client.a.b.c]\n\tkey = K\n",
	"[client.admin]\n\tkey = K\n\tcaps_osd = allow\n\tcaps    mgr=x y\n",
	"[client.admin]\n\tkey = K\n\tcaps_ mgr = x\n",
	"[client.admin]\n\tkey = K\n\tcaps = x\n",
	"[client.admin]\n\tkey = K\n\tcaps\tmon = x\n",
	"[global]\n\tfoo = bar\n[client.admin]\n\tkey = K\n",
	"[client.admin]\n\tkey = K\n[client.admin]\n\tcaps mon = a\n\tcaps mon = b\n",
	"[client.b]\n\tkey = K\n[client.a]\n\tkey = K\n",
	"[client.admin]\n\tkey = AQ\n",
	"[client.admin]\n\tkey =\n",
	"[client.admin]\n\tkey = Kgarbage\n",
	"[client.admin]\n\tkey = AQC5+xRrbFXjJRAAf/Yq\\\nnV4vPYnKu/wkckh3Cw==\n",
	"[client.admin]\r\n\tkey = K\r\n",
	"[client.admin]\r\tkey = K\r",
	"key = K\n",
	"key = K\n[client.admin]\n\tkey = K\n",
	"[client.admin]\n\tcaps mon = x\n",
	"[client.admin]\n",
	"[client.admin]\n\n\n",
	"",
	"\n",
	"# only a comment\n",
	"[client.admin]\n\tkey = K\n\n# trailing comment",
	"[client.admin]\n\tkey = K\n   \n",
	"[client.admin]\n\tkey = K\n\t\n[client.b]\n\tkey = K\n",
	"[ client.admin ]\n\tkey = K\n",
	"[client.admin]junk\n\tkey = K\n",
	"[client.admin]\t\n\tkey = K\n",
	"[client.ad\\]min]\n\tkey = K\n",
	"[client.ad min]\n\tkey = K\n",
	"[client.admin\n\tkey = K\n",
	"[client.admin]\nkey=K\n",
	"[client.admin]\n\tkey = K junk\n",
	"[client.admin]\n\tkey = \"K\" junk\n",
	"[client.admin]\n\tkey = \"K\" # c\n",
	"[client.admin]\n\tcaps mon = \"  padded  \"\n",
	"[client.admin]\n\tcaps mon = x\\\n\ty\n",
	"[client.admin]\n\tcaps mon = \"x\\\"y\"\n",
	"[client.admin]\n\tcaps mon = 'it''s'\n",
	"[client.admin]\n\tcaps mon = a=b=c\n",
	"[client.admin]\n\tcaps [mon] = x\n",
	"[client.admin]\n\t= x\n",
	"[client.admin]\n\tKEY = K\n",
	"[client.admin]\n\tkey = K\n\tkey = AQ\n",
	"[client.admin]\n\tkey = AQ\n\tkey = K\n",
	"[client.admin]\n\tcaps mon = é\n",
	"[client.admin]\n\tcaps mon = \"é\"\n",
	"# é\n[client.admin]\n\tcaps mon = x # é\n",
	"[client.admin]\n\tcaps mon = 'a\"b'\n",
	"[client.admin]\n\tcaps mon = \"a\\\\\"\n",
	"[client.x]\n\tauid = 5\n",
	"[client.admin]\n\tcaps mon = \x01x\n",
	"[client.admin]\n\tcaps mon = x\n\x7f\n",
	"[client.admin]\n\tcaps mon = \x00\n",
	"[client.admin]\n\tcaps mon = \xc3\n",
	"[client.admin] \\\n\n\tkey = K\n",
	"\\\n[client.admin]\n\tkey = K\n",
	"[client.admin]\n\tkey = " + Key{Type: KeyAES, Secret: make([]byte, 15)}.String() + "\n",
	"[client.admin]\n\tkey = " + Key{Type: KeyAES, Secret: make([]byte, 32)}.String() + "\n",
	"[client.admin]\n\tkey = " + Key{Type: KeyNone, Secret: []byte("x")}.String() + "\n",
	"[client.admin]\n\tkey = " + Key{Type: 3}.String() + "\n",
	"[client.admin]\n\tkey = " + Key{Type: 3, Secret: make([]byte, 16)}.String() + "\n",
}

var (
	keyringDiffRandom = flag.Int("cephx.keyring-diff", 0, "also compare this many random keyring texts with ceph-authtool")
	keyringDiffSeed   = flag.Uint64("cephx.keyring-seed", 1, "seed of the random keyring texts")
)

// TestKeyringDifferential makes ceph-authtool the referee of ParseKeyring: both read the same
// texts and must agree on whether each is a keyring and, when it is, on its entries (compared
// as ceph-authtool -l prints them).
func TestKeyringDifferential(t *testing.T) {
	requireAuthtool(t)
	dir := t.TempDir()
	corpus := slices.Clone(keyringCorpus)
	rng := rand.New(rand.NewPCG(*keyringDiffSeed, 2))
	for range *keyringDiffRandom {
		corpus = append(corpus, randomKeyring(rng))
	}
	agree := 0
	for i, raw := range corpus {
		text := strings.ReplaceAll(raw, "K", testKey)
		want, ok := authtoolList(t, dir, text)
		kr, err := ParseKeyring([]byte(text))
		switch {
		case ok && err != nil:
			t.Errorf("case %d %q: ceph-authtool reads it, ParseKeyring: %v", i, text, err)
		case !ok && err == nil:
			t.Errorf("case %d %q: ceph-authtool refuses it, ParseKeyring reads %q", i, text, cephPrint(kr))
		case ok && cephPrint(kr) != want:
			t.Errorf("case %d %q:\nceph-authtool -l:\n%s\nParseKeyring:\n%s", i, text, want, cephPrint(kr))
		default:
			agree++
		}
	}
	t.Logf("%d of %d keyring texts: same verdict and contents as ceph-authtool", agree, len(corpus))
}

// randomKeyring splices lines and fragments of the corpus.
func randomKeyring(rng *rand.Rand) string {
	frags := []string{"[client.admin]", "[mon.]", "[osd.1]", "[client.x y]", "\tkey = K", "key=K", "\tcaps mon = \"allow *\"",
		"\tcaps osd = 'a;b'", "caps_mgr = x # c", "; c", "# c", "", "  ", "\\", "\tkey = K\\", "\tauid = 3", "[", "]", "=", "\"", "'",
		"\tcaps mds = a\\#b", "\tkey = \"K\"", "[global]", "x = y"}
	eols := []string{"\n", "\n", "\n", "\r\n", "\r", ""}
	var sb strings.Builder
	for range 1 + rng.IntN(8) {
		sb.WriteString(frags[rng.IntN(len(frags))])
		sb.WriteString(eols[rng.IntN(len(eols))])
	}
	return sb.String()
}

// TestKeyringReadByCeph writes keyrings (fresh keys, ceph-authtool's own keys re-encoded)
// and checks ceph-authtool reads them back to the same keys and caps.
func TestKeyringReadByCeph(t *testing.T) {
	requireAuthtool(t)
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen.keyring")
	out, err := exec.Command("ceph-authtool", "--create-keyring", gen, "--gen-key", "-n", "client.alice",
		"--cap", "mon", "allow r", "--cap", "osd", "allow rw pool=a").CombinedOutput()
	if err != nil {
		t.Fatalf("ceph-authtool: %v\n%s", err, out)
	}
	kr, err := ReadKeyring(gen)
	if err != nil {
		t.Fatal(err)
	}
	alice := wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "alice"}
	e, ok := kr.Lookup(alice)
	if !ok || e.Key.Type != KeyAES || len(e.Key.Secret) != 16 || e.Caps["mon"] != "allow r" || e.Caps["osd"] != "allow rw pool=a" {
		t.Fatalf("ceph-authtool's keyring read as %+v", kr.Entries)
	}
	printed, err := exec.Command("ceph-authtool", "-p", "-n", "client.alice", gen).Output()
	if err != nil || strings.TrimSpace(string(printed)) != e.Key.String() {
		t.Errorf("ceph-authtool -p says %q, we read %s (%v)", printed, e.Key, err)
	}
	fresh, err := NewAESKey(crand.Reader, UtimeOf(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	kr.Entries = append(kr.Entries, KeyringEntry{Name: wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "7"}, Key: fresh,
		Caps: map[string]string{"mon": "allow profile osd"}})
	text, err := kr.Format()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := authtoolList(t, dir, string(text))
	if !ok {
		t.Fatalf("ceph-authtool refuses our keyring:\n%s", text)
	}
	back, err := ParseKeyring(text)
	if err != nil || got != cephPrint(back) || !bytes.Contains([]byte(got), []byte(fresh.String())) {
		t.Errorf("ceph-authtool read\n%s\nfrom\n%s (%v)", got, text, err)
	}
	printed, err = exec.Command("ceph-authtool", "-p", "-n", "osd.7", filepath.Join(dir, "k")).Output()
	if err != nil || strings.TrimSpace(string(printed)) != fresh.String() {
		t.Errorf("ceph-authtool -p osd.7 = %q %v, want %s", printed, err, fresh)
	}
}
