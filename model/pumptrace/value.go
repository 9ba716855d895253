package pumptrace

import (
	"sort"
	"strconv"
	"strings"
)

// Value is a TLA+ value that can be written as a constant expression.
type Value interface {
	write(b *strings.Builder)
}

// Int is a TLA+ integer.
type Int int64

// Str is a TLA+ string.
type Str string

// Bool is TRUE or FALSE.
type Bool bool

// Field is one field of a record.
type Field struct {
	Name  string
	Value Value
}

// Rec is a TLA+ record; fields are written in the order given.
type Rec []Field

// Tuple is a TLA+ sequence.
type Tuple []Value

// Set is a TLA+ set; its elements are written sorted and without duplicates,
// so that equal sets are written identically.
type Set []Value

func (v Int) write(b *strings.Builder) { b.WriteString(strconv.FormatInt(int64(v), 10)) }

func (v Str) write(b *strings.Builder) {
	b.WriteByte('"')
	for _, r := range string(v) {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
}

func (v Bool) write(b *strings.Builder) {
	if v {
		b.WriteString("TRUE")
	} else {
		b.WriteString("FALSE")
	}
}

func (v Rec) write(b *strings.Builder) {
	b.WriteByte('[')
	for i, f := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		b.WriteString(" |-> ")
		f.Value.write(b)
	}
	b.WriteByte(']')
}

func (v Tuple) write(b *strings.Builder) {
	b.WriteString("<<")
	for i, x := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		x.write(b)
	}
	b.WriteString(">>")
}

func (v Set) write(b *strings.Builder) {
	if ints, ok := v.ints(); ok {
		sort.Slice(ints, func(i, j int) bool { return ints[i] < ints[j] })
		v = make(Set, len(ints))
		for i, x := range ints {
			v[i] = x
		}
	}
	elems := make([]string, 0, len(v))
	seen := make(map[string]bool, len(v))
	for _, x := range v {
		s := Format(x)
		if !seen[s] {
			seen[s] = true
			elems = append(elems, s)
		}
	}
	if _, ok := v.ints(); !ok {
		sort.Strings(elems)
	}
	b.WriteByte('{')
	b.WriteString(strings.Join(elems, ", "))
	b.WriteByte('}')
}

// ints returns the elements of a set of integers.
func (v Set) ints() ([]Int, bool) {
	out := make([]Int, 0, len(v))
	for _, x := range v {
		i, ok := x.(Int)
		if !ok {
			return nil, false
		}
		out = append(out, i)
	}
	return out, true
}

// Format writes v as TLA+ text.
func Format(v Value) string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

// Get returns the value of field name, or nil.
func (v Rec) Get(name string) Value {
	for _, f := range v {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

// Names returns the field names in order.
func (v Rec) Names() []string {
	out := make([]string, len(v))
	for i, f := range v {
		out[i] = f.Name
	}
	return out
}
