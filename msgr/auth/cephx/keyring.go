package cephx

import (
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

// Keyring is a parsed keyring: entries sorted by name, as Ceph keeps them.
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
	if !utf8.Valid(b) {
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
		for _, l := range s.lines {
			if err := e.set(l.key, l.val); err != nil {
				return nil, fmt.Errorf("%w: [%s] %s: %w", ErrKeyring, s.name, l.key, err)
			}
		}
		kr.Entries = append(kr.Entries, e)
	}
	return kr, nil
}

// set applies one line (KeyRing::set_modifier): underscores in the key name read as spaces.
func (e *KeyringEntry) set(key, val string) error {
	k := strings.ReplaceAll(key, "_", " ")
	switch {
	case k == "key":
		key, err := ParseKey(val)
		if err != nil {
			return err
		}
		e.Key = key
	case strings.HasPrefix(k, "caps ") && len(k) > len("caps "):
		e.Caps[k[len("caps "):]] = val
	case k == "auid": // obsolete; Ceph accepts and ignores it
	default:
		return fmt.Errorf("unknown setting %q", k)
	}
	return nil
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

// Format writes the keyring as Ceph prints one (KeyRing::print, what ceph-authtool -l shows
// and reads back): per entry, "[name]", a tab-indented "key = <base64>" and one
// "caps <service> = \"<caps>\"" line per service in sorted order. Caps that cannot be
// written back (containing '"', '#', ';', a backslash or a line break) are an error.
func (k *Keyring) Format() ([]byte, error) {
	var sb strings.Builder
	for _, e := range k.Entries {
		fmt.Fprintf(&sb, "[%s]\n\tkey = %s\n", e.Name, e.Key)
		services := make([]string, 0, len(e.Caps))
		for s := range e.Caps {
			services = append(services, s)
		}
		slices.Sort(services)
		for _, s := range services {
			if strings.ContainsAny(e.Caps[s], "\"#;\\\r\n") || strings.ContainsAny(s, "=[]#;\\\"'\r\n") {
				return nil, fmt.Errorf("%w: caps %s = %q of %s cannot be written", ErrKeyring, s, e.Caps[s], e.Name)
			}
			fmt.Fprintf(&sb, "\tcaps %s = \"%s\"\n", s, e.Caps[s])
		}
	}
	return []byte(sb.String()), nil
}
