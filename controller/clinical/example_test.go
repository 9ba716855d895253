package clinical_test

import (
	"errors"
	"flag"
	"fmt"

	"github.com/implantfhe/implantfhe/controller/clinical"
)

func ExampleParseCentiUnits() {
	for _, in := range []string{"2.50", "2.5", "0250", "0x10", "2.505", "1001", ".5"} {
		v, err := clinical.ParseCentiUnits(in)
		switch {
		case err == nil:
			fmt.Printf("%s → %d cU = %s\n", in, v, clinical.FormatCentiUnits(v))
		case errors.Is(err, clinical.ErrSyntax), errors.Is(err, clinical.ErrPrecision), errors.Is(err, clinical.ErrRange):
			fmt.Println(err)
		}
	}
	// Output:
	// 2.50 → 250 cU = 2.50 U
	// 2.5 → 250 cU = 2.50 U
	// insulin amount "0250" (in U): invalid syntax: leading zeros are ambiguous (elsewhere 0250 is octal for 168); type the number without them
	// insulin amount "0x10" (in U): invalid syntax: base prefixes (0x, 0b, 0o) are not accepted; type a plain decimal number such as 2.50
	// insulin amount "2.505" (in U): too many decimals: at most 2 decimals (0.01 U) are accepted, and none is rounded
	// insulin amount "1001" (in U): out of range: accepted range is 0.00 to 1000.00 U
	// insulin amount ".5" (in U): invalid syntax: a digit is required before the point (0.5)
}

func ExampleDose() {
	var amount int64
	fs := flag.NewFlagSet("bolus", flag.ContinueOnError)
	fs.Var(clinical.Dose(&amount), "amount", "bolus in U, e.g. 2.50")
	if err := fs.Parse([]string{"-amount", "1", "0"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := clinical.NoTrailing(fs); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("deliver", clinical.FormatCentiUnits(amount))
	// Output:
	// bolus: unexpected arguments after the flags: "0" (each value goes with its flag, e.g. -amount 2.50; nothing from the first stray argument on was read)
}
