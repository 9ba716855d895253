//go:build unix

package clinical

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func newCounter(t *testing.T, last uint64) (*Counter, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "counter")
	require.NoError(t, CreateCounter(path, last))
	c, err := OpenCounter(path)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, path
}

func TestCounterNextIsSequentialAndUnique(t *testing.T) {
	c, _ := newCounter(t, 0)
	cur, err := c.Current()
	require.NoError(t, err)
	assert.Equal(t, uint64(0), cur)
	for want := uint64(1); want <= 100; want++ {
		v, err := c.Next()
		require.NoError(t, err)
		require.Equal(t, want, v)
	}
	cur, err = c.Current()
	require.NoError(t, err)
	assert.Equal(t, uint64(100), cur)
}

func TestCounterStartsAboveCreatedValue(t *testing.T) {
	c, _ := newCounter(t, 41)
	v, err := c.Next()
	require.NoError(t, err)
	assert.Equal(t, uint64(42), v)
}

func TestCounterPersistsAcrossReopen(t *testing.T) {
	c, path := newCounter(t, 0)
	for range 5 {
		_, err := c.Next()
		require.NoError(t, err)
	}
	require.NoError(t, c.Close())
	c2, err := OpenCounter(path)
	require.NoError(t, err)
	defer c2.Close()
	v, err := c2.Next()
	require.NoError(t, err)
	assert.Equal(t, uint64(6), v)
}

func TestCreateCounterRefusesExistingFile(t *testing.T) {
	c, path := newCounter(t, 7)
	_, err := c.Next()
	require.NoError(t, err)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	err = CreateCounter(path, 0)
	assert.ErrorIs(t, err, fs.ErrExist)
	assert.ErrorContains(t, err, path)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the existing counter is untouched")
	// Even a corrupt or empty file is not replaced.
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	assert.ErrorIs(t, CreateCounter(path, 0), fs.ErrExist)
}

func TestOpenCounterMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter")
	_, err := OpenCounter(path)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, path)
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "opening does not create the counter")
}

func TestCounterFileModeIs0600(t *testing.T) {
	old := syscall.Umask(0) // the mode must not depend on the umask
	defer syscall.Umask(old)
	c, path := newCounter(t, 0)
	check := func(when string) {
		for _, p := range []string{path, path + ".lock"} {
			fi, err := os.Stat(p)
			require.NoError(t, err)
			assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "%s: %s", when, p)
		}
	}
	check("after CreateCounter")
	_, err := c.Next()
	require.NoError(t, err)
	check("after Next")
	require.NoError(t, c.AdvanceTo(100))
	check("after AdvanceTo")
}

// TestCounterReplacesStaleTempFile: a temporary file left by a writer that
// crashed (here world-readable and garbage) neither blocks Next nor leaks its
// mode into the counter file.
func TestCounterReplacesStaleTempFile(t *testing.T) {
	c, path := newCounter(t, 3)
	require.NoError(t, os.WriteFile(path+".tmp", []byte("garbage"), 0o666))
	require.NoError(t, os.Chmod(path+".tmp", 0o666))
	v, err := c.Next()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), v)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	_, err = os.Stat(path + ".tmp")
	assert.ErrorIs(t, err, fs.ErrNotExist, "no temporary file left behind")
}

func TestCounterAdvanceToNeverLowers(t *testing.T) {
	c, _ := newCounter(t, 10)
	require.NoError(t, c.AdvanceTo(5))
	cur, err := c.Current()
	require.NoError(t, err)
	assert.Equal(t, uint64(10), cur, "AdvanceTo below Current is a no-op")
	require.NoError(t, c.AdvanceTo(10))
	require.NoError(t, c.AdvanceTo(50))
	v, err := c.Next()
	require.NoError(t, err)
	assert.Equal(t, uint64(51), v, "after AdvanceTo(50), Next is above 50")
}

func TestCounterExhaustedAtMaxUint64(t *testing.T) {
	c, path := newCounter(t, math.MaxUint64-1)
	v, err := c.Next()
	require.NoError(t, err)
	assert.Equal(t, uint64(math.MaxUint64), v)
	v, err = c.Next()
	assert.ErrorIs(t, err, ErrExhausted)
	assert.ErrorContains(t, err, path)
	assert.Zero(t, v)
	cur, err := c.Current()
	require.NoError(t, err)
	assert.Equal(t, uint64(math.MaxUint64), cur, "an exhausted counter does not wrap")

	c2, _ := newCounter(t, 0)
	require.NoError(t, c2.AdvanceTo(math.MaxUint64))
	_, err = c2.Next()
	assert.ErrorIs(t, err, ErrExhausted)
}

func TestCounterClosed(t *testing.T) {
	c, _ := newCounter(t, 0)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "closing twice is harmless")
	_, err := c.Next()
	assert.ErrorIs(t, err, ErrClosed)
	_, err = c.Current()
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, c.AdvanceTo(9), ErrClosed)
}

// TestCounterCorruptFileIsRefused: a file that is not exactly the encoding
// of a value is refused by OpenCounter and by Next on an open Counter, with
// an error naming the file, and is left as it was (never reset to 0).
func TestCounterCorruptFileIsRefused(t *testing.T) {
	good := encodeCounter(1234)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	valueAt := len(counterMagic)
	resum := func(body string) []byte { // a well-formed checksum over a wrong body
		return []byte(body + counterSumSep + hexSHA256(body) + "\n")
	}
	cases := map[string][]byte{
		"empty":               {},
		"newline only":        []byte("\n"),
		"value digit flipped": flip(valueAt), // 1234 → 0234; checksum catches it
		"last digit flipped":  flip(valueAt + 3),
		"checksum flipped":    flip(len(good) - 2),
		"magic flipped":       flip(0),
		"no newline":          good[:len(good)-1],
		"crlf":                append(bytes.Clone(good[:len(good)-1]), '\r', '\n'),
		"twice":               append(bytes.Clone(good), good...),
		"trailing byte":       append(bytes.Clone(good), 'x'),
		"zeros":               make([]byte, len(good)),
		"too large":           bytes.Repeat([]byte("1"), maxCounterFile+1),
		"json":                []byte(`{"last": 1234}` + "\n"),
		"bare number":         []byte("1234\n"),
		"leading zero":        resum(counterMagic + "01234"),
		"sign":                resum(counterMagic + "+1234"),
		"overflow":            resum(counterMagic + "18446744073709551616"),
		"uppercase checksum":  []byte(counterMagic + "1234" + counterSumSep + strings.ToUpper(hexSHA256(counterMagic+"1234")) + "\n"),
		"other version":       resum("ifhe-counter v2 last=1234"),
	}
	for i := 1; i < len(good); i++ {
		cases[fmt.Sprintf("truncated to %d bytes", i)] = good[:i]
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			// OpenCounter refuses it.
			path := filepath.Join(t.TempDir(), "counter")
			require.NoError(t, os.WriteFile(path, content, 0o600))
			_, err := OpenCounter(path)
			assertCorrupt(t, err, path)

			// An open Counter whose file is then damaged refuses too.
			c, path2 := newCounter(t, 1234)
			require.NoError(t, os.WriteFile(path2, content, 0o600))
			v, err := c.Next()
			assertCorrupt(t, err, path2)
			assert.Zero(t, v)
			assertCorrupt(t, c.AdvanceTo(2000), path2)
			_, err = c.Current()
			assertCorrupt(t, err, path2)
			after, err := os.ReadFile(path2)
			require.NoError(t, err)
			assert.Equal(t, content, after, "the corrupt file is left as it was")
		})
	}
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func assertCorrupt(t *testing.T, err error, path string) {
	t.Helper()
	require.ErrorIs(t, err, ErrCorrupt)
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, path, ce.Path)
	assert.Contains(t, err.Error(), path, "the error names the file")
}

func TestCounterEncodingIsStable(t *testing.T) {
	// The file format is persisted: changing it strands every deployed counter.
	assert.Equal(t, "ifhe-counter v1 last=42 sha256=ad383a8d1dd5226e49e477b319faf913d711d24a686cc24f3958fe31798c094d\n", string(encodeCounter(42)))
	assert.LessOrEqual(t, len(encodeCounter(math.MaxUint64)), maxCounterFile)
}

// TestCounterConcurrentGoroutines: goroutines sharing one Counter, and others
// each with their own Counter on the same file (so distinct flocks), receive
// distinct values that together are exactly 1..n.
func TestCounterConcurrentGoroutines(t *testing.T) {
	shared, path := newCounter(t, 0)
	const workers, each = 8, 25
	var mu sync.Mutex
	var got []uint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := shared
			if w%2 == 1 {
				own, err := OpenCounter(path)
				if !assert.NoError(t, err) {
					return
				}
				defer own.Close()
				c = own
			}
			for range each {
				v, err := c.Next()
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assertExactlyOneTo(t, got, workers*each)
}

func assertExactlyOneTo(t *testing.T, got []uint64, n int) {
	t.Helper()
	require.Len(t, got, n)
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i, v := range got {
		if v != uint64(i+1) {
			t.Fatalf("values are not exactly 1..%d: position %d holds %d (duplicate or gap)", n, i, v)
		}
	}
}

// Subprocess helper: the test binary re-executed with these variables set
// takes counters from the file and prints each on its own line.
const (
	helperPathEnv = "IFHE_CLINICAL_COUNTER_PATH"
	helperNEnv    = "IFHE_CLINICAL_COUNTER_N" // 0: until killed
)

func TestCounterHelperProcess(t *testing.T) {
	path := os.Getenv(helperPathEnv)
	if path == "" {
		t.Skip("subprocess helper for the multi-process counter tests")
	}
	n, err := strconv.Atoi(os.Getenv(helperNEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad", helperNEnv, err)
		os.Exit(2)
	}
	c, err := OpenCounter(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for i := 0; n == 0 || i < n; i++ {
		v, err := c.Next()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		// One write per value: what the parent reads was handed out.
		if _, err := os.Stdout.WriteString(strconv.FormatUint(v, 10) + "\n"); err != nil {
			os.Exit(5)
		}
	}
	os.Exit(0) // before the testing package prints PASS on stdout
}

func helperCmd(path string, n int) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCounterHelperProcess$")
	cmd.Env = append(os.Environ(), helperPathEnv+"="+path, helperNEnv+"="+strconv.Itoa(n))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	return cmd, &out
}

// parseValues reads the complete lines of a helper's output.
func parseValues(t *testing.T, out []byte) []uint64 {
	t.Helper()
	var vs []uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		v, err := strconv.ParseUint(sc.Text(), 10, 64)
		require.NoError(t, err, "helper output line %q", sc.Text())
		vs = append(vs, v)
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		vs = vs[:len(vs)-1] // a line cut by the kill: not a complete report
	}
	return vs
}

// TestCounterConcurrentProcesses: several processes take counters from one
// file at once; together they receive exactly 1..n.
func TestCounterConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	_, path := newCounter(t, 0)
	const procs, each = 4, 40
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range procs {
		cmd, out := helperCmd(path, each)
		require.NoError(t, cmd.Start())
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	var got []uint64
	for i, cmd := range cmds {
		require.NoError(t, cmd.Wait(), "helper %d", i)
		vs := parseValues(t, outs[i].Bytes())
		require.Len(t, vs, each, "helper %d", i)
		got = append(got, vs...)
	}
	assertExactlyOneTo(t, got, procs*each)
}

// TestCounterSurvivesSIGKILL: a process taking counters as fast as it can is
// killed with SIGKILL at a random moment, 30 times. After every kill the file
// still opens, and its Current is at least every value any process printed
// (printed means handed out); no value is ever printed twice. The seed is
// logged so a failure replays.
//
// SIGKILL tests a process crash, not a power cut: the page cache survives
// it. Against power loss the code relies on fsync of the file and the
// directory, which no test here can observe.
func TestCounterSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	_, path := newCounter(t, 0)
	seen := map[uint64]int{}
	var maxPrinted uint64
	const runs = 30
	for run := range runs {
		cmd, out := helperCmd(path, 0)
		require.NoError(t, cmd.Start())
		// From 0 to 120 ms: some kills land before the first Next, most
		// in the middle of the loop.
		time.Sleep(time.Duration(rng.IntN(120_000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: helper did not die of SIGKILL: %v", run, err)
		}
		for _, v := range parseValues(t, out.Bytes()) {
			if prev, dup := seen[v]; dup {
				t.Fatalf("seed %d: value %d handed out in run %d and again in run %d", seed, v, prev, run)
			}
			seen[v] = run
			maxPrinted = max(maxPrinted, v)
		}
		c, err := OpenCounter(path)
		require.NoError(t, err, "seed %d run %d: the file opens after the kill", seed, run)
		cur, err := c.Current()
		require.NoError(t, err)
		require.GreaterOrEqual(t, cur, maxPrinted, "seed %d run %d: every printed value was on disk first", seed, run)
		require.NoError(t, c.Close())
	}
	c, err := OpenCounter(path)
	require.NoError(t, err)
	defer c.Close()
	v, err := c.Next()
	require.NoError(t, err)
	assert.Greater(t, v, maxPrinted)
	t.Logf("%d runs, %d values printed, max %d, next %d", runs, len(seen), maxPrinted, v)
	assert.NotEmpty(t, seen, "some helper got as far as printing")
}

// TestCounterStrictlyIncreasingAcrossReopen: through any sequence of Next,
// AdvanceTo, Current and close/reopen, each value Next returns is above
// every value returned or advanced to before, by exactly one over the
// highest; at math.MaxUint64 Next refuses and nothing changes.
func TestCounterStrictlyIncreasingAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	var sawExhausted bool
	rapid.Check(t, func(t *rapid.T) {
		f, err := os.CreateTemp(dir, "counter-*")
		if err != nil {
			t.Fatal(err)
		}
		path := f.Name()
		f.Close()
		os.Remove(path)
		start := rapid.OneOf(rapid.Uint64(), rapid.Uint64Range(math.MaxUint64-3, math.MaxUint64)).Draw(t, "start")
		if err := CreateCounter(path, start); err != nil {
			t.Fatal(err)
		}
		c, err := OpenCounter(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { c.Close() }()
		model := start
		steps := rapid.IntRange(1, 12).Draw(t, "steps")
		for range steps {
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				v, err := c.Next()
				if model == math.MaxUint64 {
					if !errors.Is(err, ErrExhausted) {
						t.Fatalf("Next at MaxUint64: %d, %v", v, err)
					}
					sawExhausted = true
					continue
				}
				if err != nil || v != model+1 {
					t.Fatalf("Next = %d, %v; want %d", v, err, model+1)
				}
				model = v
			case 1:
				a := rapid.OneOf(rapid.Uint64(), rapid.Uint64Range(model-min(model, 2), model+min(math.MaxUint64-model, 2)),
					rapid.Just(uint64(math.MaxUint64))).Draw(t, "advance")
				if err := c.AdvanceTo(a); err != nil {
					t.Fatalf("AdvanceTo(%d): %v", a, err)
				}
				model = max(model, a)
			case 2:
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				if c, err = OpenCounter(path); err != nil {
					t.Fatalf("reopen: %v", err)
				}
			case 3:
				if cur, err := c.Current(); err != nil || cur != model {
					t.Fatalf("Current = %d, %v; want %d", cur, err, model)
				}
			}
		}
	})
	assert.True(t, sawExhausted, "the generator reached math.MaxUint64")
}
