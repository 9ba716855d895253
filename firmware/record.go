package firmware

import (
	"github.com/implantfhe/implantfhe/kernel/pump"
	"github.com/implantfhe/implantfhe/protocol"
)

// summarise fills the decision fields of a step record from kernel outputs.
func summarise(r *protocol.LogRecord, outs *pump.Outputs) {
	for _, o := range outs.All() {
		switch o.Kind {
		case pump.OutActuate:
			r.Deliver = append(r.Deliver, int64(o.Amount))
		case pump.OutStop:
			r.Stop = true
		case pump.OutAlert:
			r.Alerts = append(r.Alerts, o.Reason)
		case pump.OutDecision:
			r.Cmd, r.Ctr, r.Accepted, r.Reason = uint8(o.Cmd), o.Counter, o.Accepted, o.Reason
		case pump.OutSwitch:
			r.Switch, r.Accepted, r.Reason = true, o.Accepted, o.Reason
		}
	}
}
