package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kbgp/kbgp/internal/status"
)

// NodeBGPStatus is the per-node status resource (nodebgpstatuses.kbgp.io,
// kbgp's CalicoNodeStatus): one object per node, named after the node,
// written by that node's agent, so that `kubectl get nodebgpstatuses`
// shows the state of the whole fabric.
type NodeBGPStatus struct {
	// Status is the node's BGP state as its agent last saw it.
	Status NodeBGPStatusStatus `json:"status,omitzero"`
}

// NodeBGPStatusStatus is the observed BGP state of one node.
type NodeBGPStatusStatus struct {
	// RouterID is the node's BGP identifier.
	RouterID string `json:"routerID,omitempty"`
	// ASNumber is the node's AS number.
	ASNumber uint32 `json:"asNumber,omitempty"`
	// Running is true while the node's BGP speaker runs.
	Running bool `json:"running"`
	// Established counts the sessions in state Established.
	Established int32 `json:"established"`
	// PeerCount counts the configured peers.
	PeerCount int32 `json:"peerCount"`
	// Peers lists every configured peer, sorted by address.
	Peers []PeerStatus `json:"peers,omitempty"`
	// Updated is when the agent wrote this status (RFC 3339).
	Updated time.Time `json:"updated,omitzero"`
}

// PeerStatus is one session as `calicoctl node status` shows it.
type PeerStatus struct {
	// Name is the session name, e.g. Mesh_172_16_30_102.
	Name string `json:"name,omitempty"`
	// PeerIP is the peer's address.
	PeerIP string `json:"peerIP"`
	// Type is node-to-node mesh, node specific or global.
	Type string `json:"type,omitempty"`
	// State is the RFC 4271 session state (Idle ... Established).
	State string `json:"state"`
	// Since is the last state change (RFC 3339).
	Since time.Time `json:"since,omitzero"`
	// PeerASN is the peer's AS number.
	PeerASN uint32 `json:"peerASN,omitempty"`
	// LastError describes the last error on the session, if any.
	LastError string `json:"lastError,omitempty"`
}

// NodeBGPStatusFrom summarises a node's state for the status resource.
func NodeBGPStatusFrom(n status.Node, now time.Time) NodeBGPStatusStatus {
	s := NodeBGPStatusStatus{ASNumber: n.ASN, Running: n.Running, Updated: now.UTC().Truncate(time.Second)}
	if n.RouterID.IsValid() {
		s.RouterID = n.RouterID.String()
	}
	for _, p := range n.Peers {
		ps := PeerStatus{Name: p.Name, PeerIP: peerIP(p.Address, p.Port), Type: string(p.Type), State: string(p.State), PeerASN: p.PeerASN}
		if !p.Since.IsZero() {
			ps.Since = p.Since.UTC().Truncate(time.Second)
		}
		if p.LastError != nil {
			ps.LastError = fmt.Sprintf("%s: %s", p.LastError.Class, p.LastError.Message)
		}
		if p.State == status.Established {
			s.Established++
		}
		s.Peers = append(s.Peers, ps)
	}
	s.PeerCount = int32(len(s.Peers))
	slices.SortFunc(s.Peers, func(a, b PeerStatus) int {
		pa, _ := netip.ParseAddr(a.PeerIP)
		pb, _ := netip.ParseAddr(b.PeerIP)
		if c := pa.Compare(pb); c != 0 {
			return c
		}
		return strings.Compare(a.PeerIP, b.PeerIP)
	})
	return s
}

func peerIP(a netip.Addr, port uint16) string {
	if port == 0 || port == 179 {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

// WriteNodeStatus creates or updates the NodeBGPStatus named node with s.
// The object's status is written through the status subresource, which
// is all the agent's RBAC allows it to change besides creating the
// object.
func (d *Datastore) WriteNodeStatus(ctx context.Context, node string, s NodeBGPStatusStatus) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	res := d.dyn.Resource(nodeStatusGVR)
	cur, err := res.Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": Group + "/" + Version,
			"kind":       KindNodeBGPStatus,
			"metadata":   map[string]any{"name": node, "labels": map[string]any{"app.kubernetes.io/name": "kbgp"}},
		}}
		cur, err = res.Create(ctx, obj, metav1.CreateOptions{FieldManager: "kbgp"})
	}
	if err != nil {
		return d.apiError("writing", KindNodeBGPStatus, node, err)
	}
	cur.Object["status"] = st
	if _, err := res.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: "kbgp"}); err != nil {
		return d.apiError("writing the status of", KindNodeBGPStatus, node, err)
	}
	return nil
}

// ReportStatus writes node's status from p every interval (and once at
// once) until ctx ends. Errors are passed to onErr (which may be nil)
// and retried at the next interval; a failing status write never stops
// the agent.
func (d *Datastore) ReportStatus(ctx context.Context, node string, p status.Provider, interval time.Duration, onErr func(error)) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last []byte
	for {
		cctx, cancel := context.WithTimeout(ctx, interval)
		n, err := p.Node(cctx)
		if err == nil {
			s := NodeBGPStatusFrom(n, time.Now())
			// Skip a write that would change only the timestamp, unless
			// the last write is older than a minute (so Updated shows
			// the agent is alive without writing every interval).
			cmpS := s
			cmpS.Updated = s.Updated.Truncate(time.Minute)
			enc, _ := json.Marshal(cmpS)
			if string(enc) != string(last) {
				if err = d.WriteNodeStatus(cctx, node, s); err == nil {
					last = enc
				}
			}
		}
		cancel()
		if err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
