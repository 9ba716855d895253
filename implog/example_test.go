package implog_test

import (
	"fmt"

	"github.com/implantfhe/implantfhe/hal/mock"
	"github.com/implantfhe/implantfhe/implog"
)

// The firmware appends a kernel decision before it acts on it; after a power
// cut, Open repairs the torn tail and the chain continues.
func Example() {
	board := mock.New(mock.Config{Seed: 1})
	log, _, err := implog.Open(board.Storage, "decisions.log")
	if err != nil {
		panic(err)
	}
	if _, err := log.Append([]byte("bolus 150 cU accepted")); err != nil {
		panic(err)
	}
	board.Storage.CutPowerAfterBytes(30) // the next record is torn
	_, err = log.Append([]byte("bolus 900 cU rejected: PUMP-MAX-BOLUS"))
	fmt.Println("append during power cut:", err != nil)

	board.Restart()
	log, rec, err := implog.Open(board.Storage, "decisions.log")
	if err != nil {
		panic(err)
	}
	fmt.Printf("recovered %d record(s), cut a %d-byte torn tail\n", rec.Records, rec.TornBytes)

	data, _ := board.Storage.ReadAll("decisions.log") // what an auditor would receive
	n, head, err := implog.Verify(data)
	seq, h := log.Head()
	fmt.Println(n, err, seq == n && h == head)
	// Output:
	// append during power cut: true
	// recovered 1 record(s), cut a 30-byte torn tail
	// 1 <nil> true
}
