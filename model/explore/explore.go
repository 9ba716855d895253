// Package explore is an exhaustive breadth-first explorer of a finite
// transition system. It visits every state reachable from the initial ones,
// applies every input the system offers, and collects the invariant
// violations each transition reports, with the shortest trace that reaches
// each one. The kernels' model checks (model/pump, model/pacer) are built on it.
package explore

import "fmt"

// Step is one transition offered by a system.
type Step[S any] struct {
	Label      string   // readable description of the input
	Next       S        // the state after it
	Violations []string // requirement violations on this transition, "ID: detail"
}

// System is a finite transition system.
type System[S any] interface {
	Initial() []S
	// Key identifies a state; states with equal keys behave identically.
	Key(S) string
	// Successors returns every transition from s.
	Successors(s S) []Step[S]
}

// Counterexample is the shortest trace from an initial state to a violation.
type Counterexample struct {
	Violation string
	Trace     []string // input labels, in order
}

func (c Counterexample) String() string {
	s := "violation " + c.Violation + "\n"
	for i, l := range c.Trace {
		s += fmt.Sprintf("  %3d. %s\n", i+1, l)
	}
	return s
}

// Result is the outcome of an exploration.
type Result struct {
	States      int
	Transitions int
	Violations  int
	// First holds the first counterexample found (the shortest, since the
	// exploration is breadth-first); nil when there is none.
	First *Counterexample
}

// Options bound an exploration.
type Options struct {
	// MaxStates stops the exploration with an error when exceeded (0: no bound).
	MaxStates int
	// Visit, if set, is called for every transition (for trace sampling).
	Visit func(from, to int, label string)
	// StopAtFirst ends the exploration at the first violation (the mutation
	// run needs only to know that one exists, and the first one found is
	// still the shortest).
	StopAtFirst bool
}

type node struct {
	parent int
	label  string
}

// Run explores sys breadth-first.
func Run[S any](sys System[S], opt Options) (Result, error) {
	var res Result
	index := map[string]int{}
	var nodes []node
	var queue []S
	var ids []int
	for _, s := range sys.Initial() {
		k := sys.Key(s)
		if _, ok := index[k]; ok {
			continue
		}
		index[k] = len(nodes)
		nodes = append(nodes, node{parent: -1})
		queue = append(queue, s)
		ids = append(ids, len(nodes)-1)
	}
	for head := 0; head < len(queue); head++ {
		s, id := queue[head], ids[head]
		queue[head] = *new(S) // release memory of visited states
		for _, st := range sys.Successors(s) {
			res.Transitions++
			k := sys.Key(st.Next)
			nid, seen := index[k]
			if !seen {
				nid = len(nodes)
				index[k] = nid
				nodes = append(nodes, node{parent: id, label: st.Label})
				queue = append(queue, st.Next)
				ids = append(ids, nid)
				if opt.MaxStates > 0 && len(nodes) > opt.MaxStates {
					// The result keeps the counters so far and the first
					// counterexample, if one was found before the bound.
					res.States = len(nodes)
					return res, fmt.Errorf("explore: more than %d states", opt.MaxStates)
				}
			}
			if opt.Visit != nil {
				opt.Visit(id, nid, st.Label)
			}
			for _, v := range st.Violations {
				res.Violations++
				if res.First == nil {
					res.First = &Counterexample{Violation: v, Trace: append(path(nodes, id), st.Label)}
				}
			}
			if opt.StopAtFirst && res.First != nil {
				res.States = len(nodes)
				return res, nil
			}
		}
	}
	res.States = len(nodes)
	return res, nil
}

// path returns the labels leading to node id.
func path(nodes []node, id int) []string {
	var rev []string
	for ; id >= 0 && nodes[id].parent >= 0; id = nodes[id].parent {
		rev = append(rev, nodes[id].label)
	}
	out := make([]string, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out
}
