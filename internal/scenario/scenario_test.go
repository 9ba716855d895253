package scenario

import (
	"errors"
	"testing"
)

func TestCommandsScenarioParses(t *testing.T) {
	steps, err := Parse(Commands)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 8 {
		t.Fatalf("%d steps", len(steps))
	}
	for _, s := range steps {
		if len(s.Requirements) == 0 {
			t.Errorf("line %d (%s) names no requirement", s.Line, s.Name)
		}
	}
}

func TestParseRefusesBadRows(t *testing.T) {
	for _, bad := range []string{"a | b | c", "a |  | c | d", " | bolus 1 | executed | X"} {
		if _, err := Parse(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
