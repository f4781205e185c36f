package cephx

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// ErrKeyring: a keyring file does not parse as Ceph parses it.
var ErrKeyring = errors.New("cephx: bad keyring")

// MaxKeyringLen bounds the size of a keyring file ParseKeyring accepts.
const MaxKeyringLen = 1 << 20

// KeyringEntry is one entity of a keyring: its name, its key (zero if the section has none)
// and its caps by service ("mon" → "allow *").
type KeyringEntry struct {
	Name wire.AuthEntityName
	Key  Key
	Caps map[string]string
}

// Keyring is a parsed keyring: entries sorted by entity type number, then id, as Ceph keeps
// them.
type Keyring struct {
	Entries []KeyringEntry
}

// Lookup returns the entry for a name.
func (k *Keyring) Lookup(name wire.AuthEntityName) (*KeyringEntry, bool) {
	for i := range k.Entries {
		if k.Entries[i].Name == name {
			return &k.Entries[i], true
		}
	}
	return nil, false
}

// Key returns the key for a name, which must be present and non-empty.
func (k *Keyring) Key(name wire.AuthEntityName) (Key, error) {
	e, ok := k.Lookup(name)
	if !ok {
		return Key{}, fmt.Errorf("%w: no entry for %s", ErrKeyring, name)
	}
	if e.Key.IsZero() {
		return Key{}, fmt.Errorf("%w: %s has no key", ErrKeyring, name)
	}
	return e.Key, nil
}

// ReadKeyring reads and parses a keyring file of at most MaxKeyringLen bytes.
func ReadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cephx: read keyring: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyringLen+1))
	if err != nil {
		return nil, fmt.Errorf("cephx: read keyring %s: %w", path, err)
	}
	k, err := ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKeyring parses a plain-text keyring as Ceph does (KeyRing::decode_plaintext over
// ConfFile): INI sections named after entities ("[client.admin]"; "[global]" is skipped) with
// "key = <base64 CryptoKey>", "caps <service> = <caps>" and the obsolete "auid = <n>" lines.
// The syntax is ConfFile's: '#' and ';' start comments, a backslash escapes the next character
// and a backslash at the end of a line joins it with the next, values may be quoted with ""
// or ”, spaces and underscores in key names are the same, every section header and
// key=value line ends with a newline, a section header starts in the first column, sections
// with the same name merge and the last line with a given key wins. The input must be valid
// UTF-8. Ceph's binary keyring encoding is not supported.
func ParseKeyring(b []byte) (*Keyring, error) {
	if len(b) > MaxKeyringLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrKeyring, len(b), MaxKeyringLen)
	}
	if !utf8.Valid(b) { // ConfFile::parse_buffer checks that first
		return nil, fmt.Errorf("%w: invalid UTF-8", ErrKeyring)
	}
	p := &confParser{s: string(b)}
	sections, err := p.file()
	if err != nil {
		return nil, err
	}
	return keyringOf(sections)
}

func keyringOf(sections []confSection) (*Keyring, error) {
	kr := &Keyring{}
	for _, s := range sections {
		if s.name == "global" {
			continue
		}
		name, err := ParseEntityName(s.name)
		if err != nil {
			return nil, fmt.Errorf("%w: section [%s]: %w", ErrKeyring, s.name, err)
		}
		e := KeyringEntry{Name: name, Caps: map[string]string{}}
		touched := false // Ceph creates the entry when a key or caps line sets something
		for _, l := range s.lines {
			set, err := e.set(l.key, l.val)
			if err != nil {
				return nil, fmt.Errorf("%w: [%s] %s: %w", ErrKeyring, s.name, l.key, err)
			}
			touched = touched || set
		}
		if touched {
			kr.Entries = append(kr.Entries, e)
		}
	}
	// Ceph keeps them in a map ordered by EntityName: by type number, then id.
	slices.SortStableFunc(kr.Entries, func(a, b KeyringEntry) int {
		if a.Name.Type != b.Name.Type {
			return cmp.Compare(a.Name.Type, b.Name.Type)
		}
		return strings.Compare(a.Name.ID, b.Name.ID)
	})
	return kr, nil
}

// set applies one line (KeyRing::set_modifier): underscores in the key name read as spaces.
// It reports whether the line set a key or caps.
func (e *KeyringEntry) set(key, val string) (bool, error) {
	// Ceph passes both as C strings: they end at a NUL byte.
	key, _, _ = strings.Cut(key, "\x00")
	val, _, _ = strings.Cut(val, "\x00")
	k := strings.ReplaceAll(key, "_", " ")
	switch {
	case k == "key":
		key, err := ParseKey(val)
		if err != nil {
			return false, err
		}
		e.Key = key
	case strings.HasPrefix(k, "caps ") && len(k) > len("caps "):
		e.Caps[k[len("caps "):]] = val
	case k == "auid": // obsolete; Ceph accepts and ignores it
		return false, nil
	default:
		return false, fmt.Errorf("unknown setting %q", k)
	}
	return true, nil
}

// ParseEntityName parses "type.id" as Ceph's EntityName::from_str: the type before the first
// dot must be auth, mon, osd, mds, mgr or client; the id is the rest and may be empty
// ("mon.").
func ParseEntityName(s string) (wire.AuthEntityName, error) {
	typ, id, ok := strings.Cut(s, ".")
	if !ok {
		return wire.AuthEntityName{}, fmt.Errorf("entity name %q has no '.'", s)
	}
	t, known := wire.ParseEntityType(typ)
	if !known || t == wire.EntityAny {
		return wire.AuthEntityName{}, fmt.Errorf("entity name %q: unknown type %q", s, typ)
	}
	return wire.AuthEntityName{Type: uint32(t), ID: id}, nil
}

// Format writes the keyring in the form Ceph prints one (KeyRing::print, what ceph-authtool
// writes): per entry, "[name]", a tab-indented "key = <base64>" and one
// "caps <service> = \"<caps>\"" line per service in sorted order. Unlike Ceph's printer it
// escapes backslashes, '#' and ';' in caps too, so that every caps string reads back as it
// was; names and services that cannot be written (a line break, or for a service a blank,
// '=', '[', ']' or a comment character) and caps with a line break or with leading or
// trailing white space (Ceph trims values) are an error.
func (k *Keyring) Format() ([]byte, error) {
	var sb strings.Builder
	for _, e := range k.Entries {
		name := e.Name.String()
		if strings.ContainsAny(name, "]#;\\\r\n") {
			return nil, fmt.Errorf("%w: entity name %q cannot be written", ErrKeyring, name)
		}
		fmt.Fprintf(&sb, "[%s]\n\tkey = %s\n", name, e.Key)
		services := make([]string, 0, len(e.Caps))
		//lint:ordered sorted below
		for s := range e.Caps {
			services = append(services, s)
		}
		slices.Sort(services)
		for _, s := range services {
			c := e.Caps[s]
			if s == "" || strings.ContainsAny(s, " \t=[]#;\\\"'\r\n") || strings.ContainsAny(c, "\r\n") ||
				strings.TrimFunc(c, isCSpace) != c {
				return nil, fmt.Errorf("%w: caps %s = %q of %s cannot be written", ErrKeyring, s, c, e.Name)
			}
			fmt.Fprintf(&sb, "\tcaps %s = \"%s\"\n", s, capsEscaper.Replace(c))
		}
	}
	return []byte(sb.String()), nil
}

var capsEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "#", `\#`, ";", `\;`)
