package ctlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DrainTimeout bounds a drain request: the agent waits for its
// withdrawals to reach the peers (a few seconds) before it shuts the
// sessions down.
const DrainTimeout = 15 * time.Second

// DrainRequest is the body of POST /v1/drain.
type DrainRequest struct {
	// Undo brings the sessions and routes back.
	Undo bool `json:"undo,omitempty"`
	// Message is the RFC 9003 shutdown communication sent to every peer
	// (at most 255 bytes of UTF-8); empty means a default naming the node.
	Message string `json:"message,omitempty"`
}

// DrainResult answers POST /v1/drain once the node is (un)drained.
type DrainResult struct {
	Node    string `json:"node"`
	Drained bool   `json:"drained"`
	// Message is the shutdown communication in effect ("" when undrained).
	Message string `json:"message,omitempty"`
	// Changed is false when the node already was in the requested state.
	Changed bool `json:"changed"`
}

// Drainer is implemented by providers that can drain their node: withdraw
// every originated prefix, then shut every session down with an RFC 9003
// Administrative Shutdown, and keep running (Undo reverses it). The agent
// implements it; a Provider without it answers POST /v1/drain with 501.
type Drainer interface {
	Drain(ctx context.Context, req DrainRequest) (DrainResult, error)
}

func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	d, ok := s.p.(Drainer)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this agent cannot drain its node over the API")
		return
	}
	var req DrainRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "POST /v1/drain: want a JSON body {\"undo\": bool, \"message\": string}: "+err.Error())
		return
	}
	// RFC 9003 §2: the Shutdown Communication is at most 255 octets.
	if len(req.Message) > 255 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("drain message is %d bytes; RFC 9003 allows at most 255", len(req.Message)))
		return
	}
	res, err := call(r.Context(), DrainTimeout, func(ctx context.Context) (DrainResult, error) {
		return d.Drain(ctx, req)
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Drain asks the agent to drain its node (or, with req.Undo, to undrain
// it) and waits until it has.
func (c *Client) Drain(ctx context.Context, req DrainRequest) (DrainResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return DrainResult{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://kbgp/v1/drain", bytes.NewReader(body))
	if err != nil {
		return DrainResult{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hc := *c.hc
	hc.Timeout = DrainTimeout + 2*time.Second
	resp, err := hc.Do(hr)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return DrainResult{}, &UnreachableError{Path: c.path, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return DrainResult{}, &UnreachableError{Path: c.path, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("/v1/drain: HTTP %d", resp.StatusCode)
		}
		return DrainResult{}, &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	var res DrainResult
	if err := json.Unmarshal(b, &res); err != nil {
		return DrainResult{}, fmt.Errorf("kbgp agent at %s: decoding /v1/drain: %w", c.path, err)
	}
	return res, nil
}
