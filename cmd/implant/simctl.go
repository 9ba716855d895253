package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/implantfhe/implantfhe/hal"
	"github.com/implantfhe/implantfhe/hal/sim"
	"github.com/implantfhe/implantfhe/kernel/units"
)

// simDevices are the simulated HAL's sensors and outputs that a test or the
// demo drives. Their control socket is apart from the radio: it exists only
// on the simulator, listens on loopback, and is what a bench would wire to
// a signal generator — nothing on the radio reaches it.
type simDevices struct {
	glucose *sim.Glucose
	heart   *sim.Heart
	pacer   *sim.Pacer
}

// serve listens on addr (loopback) and answers one line per request:
//
//	glucose MG_DL   the sensor's reading        → ok
//	heart PPM       the intrinsic rhythm (0: none) → ok
//	stats           → "v_beats N v_paces N a_paces N"
func (sd *simDevices) serve(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-sim-control: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("-sim-control %s: the simulator's control socket listens on loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go sd.session(c)
		}
	}()
	return ln.Addr().String(), nil
}

func (sd *simDevices) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 256), 256)
	for sc.Scan() {
		fmt.Fprintln(c, sd.do(strings.Fields(sc.Text())))
	}
}

func (sd *simDevices) do(f []string) string {
	arg := func() (int, error) {
		if len(f) != 2 {
			return 0, fmt.Errorf("want one argument")
		}
		return strconv.Atoi(f[1])
	}
	switch {
	case len(f) == 0:
		return "error: empty request"
	case f[0] == "glucose" && sd.glucose != nil:
		v, err := arg()
		if err != nil || v < 0 || v > 1000 {
			return fmt.Sprintf("error: glucose: %v", err)
		}
		sd.glucose.Set(units.MgDL(v))
		return "ok"
	case f[0] == "heart" && sd.heart != nil:
		v, err := arg()
		if err != nil || v < 0 || v > 300 {
			return fmt.Sprintf("error: heart: %v", err)
		}
		sd.heart.SetRate(v)
		return "ok"
	case f[0] == "stats" && sd.heart != nil:
		return fmt.Sprintf("v_beats %d v_paces %d a_paces %d", sd.heart.VBeats(), sd.pacer.Pulses(hal.ChamberVentricle), sd.pacer.Pulses(hal.ChamberAtrium))
	}
	return fmt.Sprintf("error: %q is not a request this simulator serves", strings.Join(f, " "))
}
