package relay

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/implantfhe/implantfhe/link"
	"github.com/implantfhe/implantfhe/protocol"
	"github.com/implantfhe/implantfhe/update"
	"github.com/implantfhe/implantfhe/wire"
)

// MaxRelease bounds a published release: the largest image, its tags and
// manifest, and the release header.
const MaxRelease = update.MaxImageSize + (update.MaxImageSize/update.MinChunkSize+1)*update.TagSize + update.MaxManifestSize + 64

// UpdateEvent is one step of an update as the relay saw it: the implant's
// signed acknowledgement (base64), its decoded event, and the relay log
// entry that holds it.
type UpdateEvent struct {
	Event    protocol.Event `json:"event"`
	Error    string         `json:"error,omitempty"`
	Version  uint64         `json:"version,omitempty"`
	SecCtr   uint64         `json:"security_counter,omitempty"`
	Slot     string         `json:"slot,omitempty"`
	Phase    string         `json:"phase,omitempty"`
	LogIndex uint64         `json:"log_index"`
	Ack      string         `json:"ack,omitempty"`
	// MissingMap is a "downloading" event's bitmap of the chunks to send
	// (protocol.ChunkMissing); nil means all of them.
	MissingMap []byte `json:"-"`
}

// UpdateResponse of POST /v1/update.
type UpdateResponse struct {
	Events []UpdateEvent `json:"events"`
	// ManifestBytes is the manifest's size on the radio; Chunks and
	// ChunkBytes the ciphertext chunks sent (all of them unless one was
	// refused) and their total size (each
	// update.TagSize longer than its plaintext); RadioBytes everything sent
	// to the implant, link and request framing included.
	ManifestBytes int   `json:"manifest_bytes"`
	Chunks        int   `json:"chunks"`
	ChunkBytes    int   `json:"chunk_bytes"`
	RadioBytes    int   `json:"radio_bytes"`
	TransferMs    int64 `json:"transfer_ms"`
	// StagedMs: offer to "staged" (download, digest check, switch decision).
	StagedMs int64 `json:"staged_ms,omitempty"`
}

// Done reports whether the update ended confirmed.
func (r *UpdateResponse) Done() bool {
	return len(r.Events) > 0 && r.Events[len(r.Events)-1].Event == protocol.EvConfirmed
}

// Last is the last event.
func (r *UpdateResponse) Last() UpdateEvent {
	if len(r.Events) == 0 {
		return UpdateEvent{}
	}
	return r.Events[len(r.Events)-1]
}

// Finish retries after the kernel refused a slot switch for now.
const (
	finishTries      = 10
	finishRetryDelay = 150 * time.Millisecond
)

func switchRefused(ev UpdateEvent) bool { return ev.Event == protocol.EvSwitchRefused }

// Pusher drives firmware updates over one radio link (a connection to the
// implant's link port): every request/reply exchange, the radio byte count,
// and the events of the signed acknowledgements.
type Pusher struct {
	RW io.ReadWriter
	// Ack turns an implant acknowledgement into its event (the relay
	// verifies and logs it; tests may only decode it).
	Ack func(ack []byte) (UpdateEvent, error)
	// Bytes counts everything sent, link framing included.
	Bytes int
	// Chunks and ChunkBytes count the ciphertext chunks sent.
	Chunks, ChunkBytes int
	Events             []UpdateEvent
	// StagedMs is the time from the offer to the "staged" event (download,
	// digest check, switch decision); 0 if it was not reached.
	StagedMs int64
}

// Last is the last event.
func (p *Pusher) Last() UpdateEvent {
	if len(p.Events) == 0 {
		return UpdateEvent{}
	}
	return p.Events[len(p.Events)-1]
}

// Call sends one update request and returns the event of its
// acknowledgement; ok is false for an empty reply (a staged chunk).
func (p *Pusher) Call(req *protocol.UpdateRequest) (ev UpdateEvent, ok bool, err error) {
	b, err := protocol.EncodeUpdateRequest(req)
	if err != nil {
		return ev, false, err
	}
	if c, isConn := p.RW.(net.Conn); isConn {
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	}
	if err := link.Write(p.RW, link.TypeUpdate, b); err != nil {
		return ev, false, err
	}
	p.Bytes += len(b) + 5
	rt, reply, err := link.Read(p.RW)
	if err != nil {
		return ev, false, fmt.Errorf("relay: implant link: %w", err)
	}
	if rt != link.TypeReply {
		return ev, false, fmt.Errorf("relay: implant: %s", reply)
	}
	if len(reply) == 0 {
		return ev, false, nil
	}
	if ev, err = p.Ack(reply); err != nil {
		return ev, false, err
	}
	p.Events = append(p.Events, ev)
	return ev, true, nil
}

// Push runs one whole update: offer; if the implant starts a download,
// every chunk it still misses (stopping at a refused one), finish — asked again a few times
// while the kernel refuses the switch for now (a bolus in progress, a pace
// due within the switch-over) — and, after a staged image (the implant
// reboots into it), a status request that brings back the outcome.
func (p *Pusher) Push(rel *update.Release) error {
	start := time.Now()
	ev, _, err := p.Call(&protocol.UpdateRequest{Op: protocol.UpdOffer, Manifest: rel.Manifest})
	if err != nil || ev.Event != protocol.EvDownloading {
		return err
	}
	for i, c := range rel.Chunks {
		if ev.MissingMap != nil && !protocol.ChunkMissing(ev.MissingMap, i) {
			continue // staged before (a resumed download)
		}
		// A staged chunk gets an empty reply; a refusal, a signed one.
		_, refused, err := p.Call(&protocol.UpdateRequest{Op: protocol.UpdChunk, Index: uint32(i), Chunk: c})
		if err != nil {
			return err
		}
		p.Chunks++
		p.ChunkBytes += len(c)
		if refused {
			return nil
		}
	}
	for try := 0; try < finishTries; try++ {
		if try > 0 {
			time.Sleep(finishRetryDelay)
		}
		if _, _, err := p.Call(&protocol.UpdateRequest{Op: protocol.UpdFinish}); err != nil {
			return err
		}
		if !switchRefused(p.Last()) {
			break
		}
	}
	if p.Last().Event != protocol.EvStaged {
		return nil
	}
	p.StagedMs = time.Since(start).Milliseconds()
	_, _, err = p.Call(&protocol.UpdateRequest{Op: protocol.UpdStatus})
	return err
}

func (s *Server) dialUpdate() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", s.LinkAddr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("relay: implant link: %w", err)
	}
	return c, nil
}

// updateEvent verifies an implant update acknowledgement, logs it and
// returns its event.
func (s *Server) updateEvent(ack []byte) (UpdateEvent, error) {
	e, err := s.verifyImplant(ack, wire.KindAck)
	if err != nil {
		return UpdateEvent{}, fmt.Errorf("relay: implant update ack: %w", err)
	}
	a, err := protocol.DecodeAck(e.Body)
	if err != nil {
		return UpdateEvent{}, fmt.Errorf("relay: implant update ack: %w", err)
	}
	if a.Kind != protocol.AckUpdate {
		return UpdateEvent{}, fmt.Errorf("relay: implant answered an update with a %s acknowledgement", a.Kind)
	}
	i, err := s.appendLog(ack)
	if err != nil {
		return UpdateEvent{}, err
	}
	ev := EventOf(a.Update)
	ev.LogIndex, ev.Ack = i, base64.StdEncoding.EncodeToString(ack)
	return ev, nil
}

// EventOf is the event an implant's update information stands for. A
// status reply stands for the last update event the implant logged.
func EventOf(r *protocol.UpdateInfo) UpdateEvent {
	ev := UpdateEvent{Event: r.Event, Error: r.Error, Version: r.Version, SecCtr: r.SecCtr, Slot: r.Slot, Phase: r.Phase,
		MissingMap: r.MissingMap}
	if r.Event == protocol.EvStatus && r.Last != protocol.EvNone {
		ev.Event = r.Last
	}
	return ev
}

// publishUpdate (POST /v1/update) takes a release from the controller, logs
// its manifest (signed by the manufacturer) and pushes it to the implant:
// offer, every chunk, finish; after a staged image the implant reboots into
// it, and a status request brings back the outcome (confirmed or reverted).
// Every implant acknowledgement is verified and logged. The relay checks the
// release's structure only; it cannot read the image.
func (s *Server) publishUpdate(w http.ResponseWriter, r *http.Request) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(ReleaseReadTime))
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxRelease+1))
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	if len(b) > MaxRelease {
		httpErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("relay: release of more than %d bytes", MaxRelease))
		return
	}
	rel, _, err := update.DecodeRelease(b)
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := UpdateResponse{ManifestBytes: len(rel.Manifest)}
	mi, err := s.appendLog(rel.Manifest)
	if err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	start := time.Now()
	c, err := s.dialUpdate()
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	defer c.Close()
	p := &Pusher{RW: c, Ack: s.updateEvent, Events: []UpdateEvent{{Event: protocol.EvPublished, LogIndex: mi}}}
	err = p.Push(rel)
	resp.Events, resp.Chunks, resp.ChunkBytes, resp.RadioBytes = p.Events, p.Chunks, p.ChunkBytes, p.Bytes
	resp.TransferMs, resp.StagedMs = time.Since(start).Milliseconds(), p.StagedMs
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, resp)
}

// rotateRoot (POST /v1/update/root) forwards a signed new manufacturer
// trust root to the implant, which accepts it only if a threshold of the
// current root's keys and of its own keys signed it, at a higher version.
// The root and the implant's acknowledgement are logged.
func (s *Server) rotateRoot(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, update.MaxManifestSize+1))
	if err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	if _, err := update.DecodeSignedRoot(b); err != nil {
		httpErr(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.appendLog(b); err != nil {
		httpErr(w, http.StatusInternalServerError, err)
		return
	}
	s.callOnce(w, &protocol.UpdateRequest{Op: protocol.UpdRoot, Root: b})
}

// callOnce sends one update request to the implant and answers with the
// event of its logged, verified acknowledgement. The caller holds s.mu.
func (s *Server) callOnce(w http.ResponseWriter, req *protocol.UpdateRequest) {
	c, err := s.dialUpdate()
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	defer c.Close()
	p := &Pusher{RW: c, Ack: s.updateEvent}
	ev, ok, err := p.Call(req)
	if err == nil && !ok {
		err = fmt.Errorf("relay: implant did not answer update operation %d", req.Op)
	}
	if err != nil {
		httpErr(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, ev)
}

// updateStatus (GET /v1/update/status) asks the implant for its update
// state; the signed reply is logged and returned.
func (s *Server) updateStatus(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callOnce(w, &protocol.UpdateRequest{Op: protocol.UpdStatus})
}
