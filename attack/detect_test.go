package attack

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/implantfhe/implantfhe/logchain"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/wire"
)

// The plaintext detector: does a dose appear in clear?
//
// It looks three ways: (1) decoded structure: every integer of every
// acknowledgement body the relay holds, through protocol.DecodeAck (the
// fields in clear: Answers, Refusal, Update) and through a generic CBOR
// decoding (any field, known or not); (2) raw bytes: the CBOR encodings an
// old-style plaintext acknowledgement or record would contain (a
// one-element array holding the dose: 0x81 0x19 0x01 0x1f for 287); (3)
// JSON: every number in the relay's JSON answers. Ciphertexts are random
// bytes: a four-byte pattern turns up by chance about once in 4 GB, far
// more than a run writes.

// dosePatterns are the CBOR byte patterns of a dose of cU centi-units in an
// array of one (values, deliveries), for 256 ≤ cU < 65536.
func dosePatterns(cU uint64) [][]byte {
	return [][]byte{{0x81, 0x19, byte(cU >> 8), byte(cU)}}
}

// finder accumulates where a dose was found.
type finder struct {
	dose  uint64
	found []string
}

func (f *finder) hit(format string, a ...any) { f.found = append(f.found, fmt.Sprintf(format, a...)) }

// raw searches bytes for the dose's CBOR patterns.
func (f *finder) raw(where string, b []byte) {
	for _, p := range dosePatterns(f.dose) {
		if i := bytes.Index(b, p); i >= 0 {
			f.hit("%s: bytes % x at offset %d", where, p, i)
		}
	}
}

// ints walks a generically decoded CBOR or JSON value for the dose.
func (f *finder) ints(where string, v any) {
	switch x := v.(type) {
	case uint64:
		if x == f.dose {
			f.hit("%s: integer %d", where, x)
		}
	case int64:
		if x >= 0 && uint64(x) == f.dose {
			f.hit("%s: integer %d", where, x)
		}
	case float64:
		if x == float64(f.dose) {
			f.hit("%s: number %v", where, x)
		}
	case json.Number:
		if x.String() == fmt.Sprint(f.dose) {
			f.hit("%s: number %s", where, x)
		}
	case []any:
		for i, e := range x {
			f.ints(fmt.Sprintf("%s[%d]", where, i), e)
		}
	case map[any]any:
		for k, e := range x {
			f.ints(fmt.Sprintf("%s{%v}", where, k), k)
			f.ints(fmt.Sprintf("%s{%v}", where, k), e)
		}
	case map[string]any:
		for k, e := range x {
			f.ints(where+"."+k, e)
		}
	}
}

// fields walks a decoded Go value (a protocol.Ack's clear fields) for
// integers equal to the dose.
func (f *finder) fields(where string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			f.fields(where, v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f.fields(where+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes: digests, sealed ciphertext (raw patterns cover them)
		}
		for i := 0; i < v.Len(); i++ {
			f.fields(fmt.Sprintf("%s[%d]", where, i), v.Index(i))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Int() >= 0 && uint64(v.Int()) == f.dose {
			f.hit("%s = %d", where, v.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if v.Uint() == f.dose {
			f.hit("%s = %d", where, v.Uint())
		}
	}
}

// generic decodes CBOR into interface{} and walks its integers.
func (f *finder) generic(where string, b []byte) {
	var v any
	if err := cbor.Unmarshal(b, &v); err == nil {
		f.ints(where, v)
	}
}

// frame inspects one frame the relay holds or sent: an envelope (for an
// acknowledgement, its body's clear fields and every integer in it), or a
// radio bundle of envelopes; raw patterns in every case.
func (f *finder) frame(where string, b []byte) {
	f.raw(where, b)
	env, err := wire.Decode(b, wire.MaxFrame)
	if err != nil {
		if bu, err := wire.DecodeBundle(b, wire.MaxFrame); err == nil {
			f.frame(where+" bundle.command", bu.Command)
			if len(bu.Verdict) > 0 {
				f.frame(where+" bundle.verdict", bu.Verdict)
			}
		}
		return
	}
	if env.Header.Kind != wire.KindAck {
		return // command, verdict, telemetry: CKKS ciphertext bodies
	}
	if a, err := protocol.DecodeAck(env.Body); err == nil {
		f.fields(where+" ack", reflect.ValueOf(*a))
	}
	f.generic(where+" ack body", env.Body)
}

// files walks every file under dir, raw patterns only.
func (f *finder) files(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		f.raw("file "+rel, b)
		return nil
	})
}

// jsonBody walks a JSON answer's numbers, and inspects as frames the base64
// strings it carries (a command response's acknowledgement, log entries).
// relay_ms is skipped: it is the relay's own timing of its work, a number
// the relay makes up, not one it could have learnt.
func (f *finder) jsonBody(where string, b []byte) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return
	}
	if m, ok := v.(map[string]any); ok {
		delete(m, "relay_ms")
	}
	f.ints(where+" json", v)
	var walk func(string, any)
	walk = func(w string, v any) {
		switch x := v.(type) {
		case string:
			if raw, err := base64.StdEncoding.DecodeString(x); err == nil && len(raw) > 0 {
				f.frame(w, raw)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", w, i), e)
			}
		case map[string]any:
			for k, e := range x {
				walk(w+"."+k, e)
			}
		}
	}
	walk(where+" json", v)
}

// response inspects one HTTP response body of the relay.
func (f *finder) response(where string, b []byte) {
	if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		f.jsonBody(where, b)
		return
	}
	f.frame(where, b)
}

func (f *finder) String() string {
	if len(f.found) == 0 {
		return "nothing"
	}
	s := f.found
	more := ""
	if len(s) > 8 {
		s, more = s[:8], fmt.Sprintf(" … and %d more", len(f.found)-8)
	}
	return strings.Join(s, "; ") + more
}

// implantRecords decodes the implant's own log (it stays on the implant).
func implantRecords(path string) ([]*protocol.LogRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*protocol.LogRecord
	for rec, err := range logchain.Decode(data) {
		if err != nil {
			// A torn tail while the implant appends is not an error here.
			break
		}
		r, err := protocol.DecodeRecord(rec.Payload)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
