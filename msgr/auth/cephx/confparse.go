package cephx

import (
	"fmt"
	"slices"
	"strings"
)

// confParser reads Ceph's INI dialect (ConfFile) byte by byte, following its grammar:
//
//	file       = (keyval | eol* section*) end
//	section    = heading (keyval, not a heading)* eol*
//	heading    = '[' textchar-but-']'+ ']' emptyline+
//	keyval     = blank* key blank* '=' blank* value emptyline+
//	key        = the raw text of word (blank+ word)*, word = textchar-but-'=','[',' '+
//	value      = '"' textchar-but-'"'* '"' | '\'' textchar-but-'\''* '\'' | textchar*
//	emptyline  = blank* eol
//	textchar   = '\' any-but-eol | any-but-'#',';',eol
//
// Between the elements of every rule except inside a quoted value, a comment (blanks, then
// '#' or ';', to the end of the line) and a line continuation ('\' then a line break) are
// skipped. A failure after a heading's '[', after a keyval's '=' or at the end is a syntax
// error; a keyval that fails before its '=' ends the section softly. Keys are normalised
// (outer spaces trimmed, inner runs of spaces made one '_'), values trimmed.
type confParser struct {
	s   string
	pos int
	// fatal is set when Ceph's parser would test a non-ASCII byte for being a blank, which
	// fails an assertion in Boost.Spirit (ceph-authtool aborts): a byte >= 0x80 is only safe
	// inside a quoted value or a comment.
	fatal error
}

type confLine struct{ key, val string }

type confSection struct {
	name  string
	lines []confLine // sorted by key, one per key (the last one given)
}

// errAt reports a syntax error at the current position.
func (p *confParser) errAt(what string) error { return p.errAtPos(p.pos, what) }

// errAtPos reports a syntax error with Ceph's line and column convention (1-based).
func (p *confParser) errAtPos(pos int, what string) error {
	line := 1 + strings.Count(p.s[:pos], "\n")
	col := pos - strings.LastIndexByte(p.s[:pos], '\n')
	return fmt.Errorf("%w: parse error: expected %s in line %d at position %d", ErrKeyring, what, line, col)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// blankAt tests the byte at i as Ceph's blank parser does, recording a non-ASCII byte.
func (p *confParser) blankAt(i int) bool {
	if i >= len(p.s) {
		return false
	}
	if p.s[i] >= 0x80 && p.fatal == nil {
		p.fatal = p.errAtPos(i, "ASCII (a non-ASCII byte outside quotes and comments)")
	}
	return isBlank(p.s[i])
}

// eolLen is the length of the line break at i: 2 for CRLF, 1 for LF or CR, 0 if none.
func (p *confParser) eolLen(i int) int {
	switch {
	case i >= len(p.s):
		return 0
	case p.s[i] == '\r' && i+1 < len(p.s) && p.s[i+1] == '\n':
		return 2
	case p.s[i] == '\r' || p.s[i] == '\n':
		return 1
	}
	return 0
}

func (p *confParser) atEnd() bool { return p.pos >= len(p.s) }

// skip passes over comments and line continuations.
func (p *confParser) skip() {
	for !p.atEnd() {
		if p.s[p.pos] == '\\' && p.eolLen(p.pos+1) > 0 {
			p.pos += 1 + p.eolLen(p.pos+1)
			continue
		}
		j := p.pos
		for p.blankAt(j) {
			j++
		}
		if j < len(p.s) && (p.s[j] == '#' || p.s[j] == ';') {
			p.pos = j + 1
			for !p.atEnd() && p.eolLen(p.pos) == 0 {
				p.pos++
			}
			continue
		}
		return
	}
}

// eol consumes a line break (after skipping, when skip is set).
func (p *confParser) eol() bool {
	n := p.eolLen(p.pos)
	p.pos += n
	return n > 0
}

// textChar reads one text character: an escaped character or anything but a comment start
// or a line break.
func (p *confParser) textChar(skip bool) (byte, bool) {
	if skip {
		p.skip()
	}
	if p.atEnd() {
		return 0, false
	}
	c := p.s[p.pos]
	if c == '\\' && p.pos+1 < len(p.s) && p.eolLen(p.pos+1) == 0 {
		p.pos += 2
		return p.s[p.pos-1], true
	}
	if c == '#' || c == ';' || p.eolLen(p.pos) > 0 {
		return 0, false
	}
	p.pos++
	return c, true
}

func (p *confParser) blanks() {
	p.skip()
	for p.blankAt(p.pos) {
		p.pos++
	}
}

// emptyLines consumes one or more blank (or comment) lines; false if there is none.
func (p *confParser) emptyLines() bool {
	n := 0
	for {
		save := p.pos
		p.blanks()
		if !p.eol() {
			p.pos = save
			return n > 0
		}
		n++
	}
}

func (p *confParser) file() ([]confSection, error) {
	all, err := p.sections()
	if p.fatal != nil {
		return nil, p.fatal
	}
	return all, err
}

func (p *confParser) sections() ([]confSection, error) {
	var all []confSection
	save := p.pos
	if _, ok, err := p.keyval(); err != nil {
		return nil, err
	} else if ok { // a file of one key=value line and no section
		return p.end(nil)
	}
	p.pos = save
	for p.skip(); p.eol(); p.skip() {
	}
	for {
		s, ok, err := p.section()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		all = append(all, s)
	}
	return p.end(all)
}

func (p *confParser) end(all []confSection) ([]confSection, error) {
	p.skip()
	if p.fatal != nil {
		return nil, p.fatal
	}
	if !p.atEnd() {
		return nil, p.errAt("end of input")
	}
	return mergeSections(all), nil
}

func (p *confParser) section() (confSection, bool, error) {
	p.skip()
	if p.atEnd() || p.s[p.pos] != '[' {
		return confSection{}, false, nil
	}
	name, err := p.heading()
	if err != nil {
		return confSection{}, false, err
	}
	s := confSection{name: name}
	for {
		p.skip()
		if !p.atEnd() && p.s[p.pos] == '[' {
			break
		}
		save := p.pos
		l, ok, err := p.keyval()
		if err != nil {
			return confSection{}, false, err
		}
		if !ok {
			p.pos = save
			break
		}
		s.lines = append(s.lines, l)
	}
	for p.skip(); p.eol(); p.skip() {
	}
	return s, true, nil
}

// heading reads "[name]" and the line break(s) after it; the '[' is at p.pos.
func (p *confParser) heading() (string, error) {
	p.pos++
	var name []byte
	for {
		p.skip()
		if !p.atEnd() && p.s[p.pos] == ']' {
			break
		}
		c, ok := p.textChar(true)
		if !ok {
			break
		}
		name = append(name, c)
	}
	if len(name) == 0 {
		return "", p.errAt("section name")
	}
	p.skip()
	if p.atEnd() || p.s[p.pos] != ']' {
		return "", p.errAt("']'")
	}
	p.pos++
	if !p.emptyLines() {
		return "", p.errAt("end of line")
	}
	return string(name), nil
}

// keyval reads "key = value" and the line break(s) after it. ok is false (and err nil) when
// the line is not a key=value line before its '='.
func (p *confParser) keyval() (confLine, bool, error) {
	p.blanks()
	key, ok := p.key()
	if !ok {
		return confLine{}, false, nil
	}
	p.blanks()
	p.skip()
	if p.atEnd() || p.s[p.pos] != '=' {
		return confLine{}, false, nil
	}
	p.pos++
	p.blanks()
	val, err := p.value()
	if err != nil {
		return confLine{}, false, err
	}
	if !p.emptyLines() {
		return confLine{}, false, p.errAt("end of line")
	}
	return confLine{key: normalizeKey(key), val: strings.TrimFunc(val, isCSpace)}, true, nil
}

// key reads the raw text of one or more words separated by blanks.
func (p *confParser) key() (string, bool) {
	p.skip()
	start := p.pos
	if !p.word() {
		return "", false
	}
	for {
		save := p.pos
		n := 0
		for {
			p.skip()
			if !p.blankAt(p.pos) {
				break
			}
			p.pos++
			n++
		}
		if n == 0 || !p.word() {
			p.pos = save
			break
		}
	}
	return p.s[start:p.pos], true
}

// word reads one or more key characters: text characters other than '=', '[' and ' '.
func (p *confParser) word() bool {
	n := 0
	for {
		save := p.pos
		p.skip()
		if !p.atEnd() && strings.IndexByte("=[ ", p.s[p.pos]) >= 0 {
			p.pos = save
			return n > 0
		}
		if _, ok := p.textChar(true); !ok {
			p.pos = save
			return n > 0
		}
		n++
	}
}

// value reads a quoted or unquoted value.
func (p *confParser) value() (string, error) {
	p.skip()
	if !p.atEnd() && (p.s[p.pos] == '"' || p.s[p.pos] == '\'') {
		q := p.s[p.pos]
		p.pos++
		var v []byte
		for !p.atEnd() && p.s[p.pos] != q {
			c, ok := p.textChar(false)
			if !ok {
				break
			}
			v = append(v, c)
		}
		if p.atEnd() || p.s[p.pos] != q {
			return "", p.errAt(fmt.Sprintf("closing %c", q))
		}
		p.pos++
		return string(v), nil
	}
	var v []byte
	for {
		c, ok := p.textChar(true)
		if !ok {
			return string(v), nil // a trailing comment stays skipped
		}
		v = append(v, c)
	}
}

// normalizeKey trims whitespace and turns each inner run of whitespace into one '_'
// (ConfFile::normalize_key_name).
func normalizeKey(k string) string {
	return strings.Join(strings.FieldsFunc(k, isCSpace), "_")
}

// isCSpace is C's isspace in the C locale.
func isCSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

// mergeSections merges sections with the same name (later lines win) and sorts sections by
// name and lines by key, as ConfFile's maps do.
func mergeSections(all []confSection) []confSection {
	slices.SortStableFunc(all, func(a, b confSection) int { return strings.Compare(a.name, b.name) })
	var out []confSection
	for _, s := range all {
		if n := len(out); n > 0 && out[n-1].name == s.name {
			out[n-1].lines = append(out[n-1].lines, s.lines...)
			continue
		}
		out = append(out, confSection{name: s.name, lines: append([]confLine(nil), s.lines...)})
	}
	for i := range out {
		out[i].lines = lastByKey(out[i].lines)
	}
	return out
}

// lastByKey sorts lines by key and keeps, for each key, the line given last.
func lastByKey(lines []confLine) []confLine {
	slices.SortStableFunc(lines, func(a, b confLine) int { return strings.Compare(a.key, b.key) })
	out := lines[:0]
	for i, l := range lines {
		if i+1 < len(lines) && lines[i+1].key == l.key {
			continue
		}
		out = append(out, l)
	}
	return out
}
