package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ErrCatalogue: the requirement catalogue cannot be read.
var ErrCatalogue = errors.New("conformance: bad requirement catalogue")

// Requirement is one catalogue entry.
type Requirement struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Source string `json:"source"`
	Spec   struct {
		Module    string `json:"module"`
		Invariant string `json:"invariant"`
	} `json:"spec"`
	Kernel []string `json:"kernel"`
	Tests  []string `json:"tests"`
	Method string   `json:"method"`
	// Layer is "system" for a requirement on the whole system (the SEC-…
	// security requirements: no spec invariant, no kernel check; Code names
	// the packages that implement it), empty for a kernel requirement.
	Layer string   `json:"layer,omitempty"`
	Code  []string `json:"code,omitempty"`
	// File is the catalogue file the entry came from.
	File string `json:"-"`
}

// System reports whether r is a system-level (security) requirement.
func (r Requirement) System() bool { return r.Layer == "system" }

// LoadCatalogue reads every requirements*.json in dir, in name order. An ID
// listed twice is an error.
func LoadCatalogue(dir string) ([]Requirement, error) {
	files, err := filepath.Glob(filepath.Join(dir, "requirements*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no requirements*.json in %s", ErrCatalogue, dir)
	}
	var all []Requirement
	seen := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCatalogue, err)
		}
		var reqs []Requirement
		if err := json.Unmarshal(b, &reqs); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCatalogue, f, err)
		}
		for _, r := range reqs {
			if r.ID == "" {
				return nil, fmt.Errorf("%w: %s: entry without an id", ErrCatalogue, f)
			}
			if prev, dup := seen[r.ID]; dup {
				return nil, fmt.Errorf("%w: %s listed in %s and %s", ErrCatalogue, r.ID, prev, f)
			}
			seen[r.ID] = f
			r.File = filepath.Base(f)
			all = append(all, r)
		}
	}
	return all, nil
}
