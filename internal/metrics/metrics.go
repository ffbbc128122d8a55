// Package metrics exposes a kbgp node's state as Prometheus metrics. The
// Collector reads the agent's status (the same status.Provider the control
// API serves) at scrape time, so nothing is double-booked; only the
// reconcile-duration histogram is observed by the agent as it runs.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kbgp/kbgp/internal/status"
)

// NodeSource is the part of status.Provider the collector needs.
type NodeSource interface {
	Node(ctx context.Context) (status.Node, error)
}

// Options configure a Collector. The zero value is usable.
type Options struct {
	// Now is the clock for uptimes; nil means time.Now.
	Now func() time.Time
	// Timeout bounds reading the source per scrape; zero means 1.5 s.
	Timeout time.Duration
	// ReconcileBuckets are the reconcile histogram's buckets in seconds;
	// nil means 1 ms to ~16 s in powers of two.
	ReconcileBuckets []float64
}

// Collector is a prometheus.Collector over a node's status.
type Collector struct {
	src       NodeSource
	opts      Options
	reconcile prometheus.Histogram
}

// sessionStates are the RFC 4271 §8.2.2 states kbgp_bgp_peer_state has a
// series for.
var sessionStates = []status.SessionState{
	status.Idle, status.Connect, status.Active, status.OpenSent, status.OpenConfirm, status.Established,
}

var (
	peerLabels = []string{"peer", "session"}

	descUp      = prometheus.NewDesc("kbgp_up", "1 if the agent's status could be read for this scrape, 0 if not.", nil, nil)
	descRunning = prometheus.NewDesc("kbgp_bgp_speaker_running", "1 if the BGP speaker is running.", nil, nil)
	descGR      = prometheus.NewDesc("kbgp_bgp_graceful_restart_in_progress", "1 while this node recovers from its own restart (RFC 4724), waiting for End-of-RIB.", nil, nil)
	descState   = prometheus.NewDesc("kbgp_bgp_peer_state", "1 for the session's current BGP FSM state, 0 for the others.",
		[]string{"peer", "session", "type", "state"}, nil)
	descAdminUp = prometheus.NewDesc("kbgp_bgp_peer_admin_up", "1 if the session is administratively enabled.", peerLabels, nil)
	descUptime  = prometheus.NewDesc("kbgp_bgp_peer_uptime_seconds", "Seconds the session has been Established; 0 when it is not.", peerLabels, nil)
	descRcvd    = prometheus.NewDesc("kbgp_bgp_peer_prefixes_received", "Prefixes received from the peer (Adj-RIB-In before import policy).",
		[]string{"peer", "session", "family"}, nil)
	descAcc = prometheus.NewDesc("kbgp_bgp_peer_prefixes_accepted", "Prefixes from the peer accepted by import policy.",
		[]string{"peer", "session", "family"}, nil)
	descAdv = prometheus.NewDesc("kbgp_bgp_peer_prefixes_advertised", "Prefixes advertised to the peer (Adj-RIB-Out).",
		[]string{"peer", "session", "family"}, nil)
	descMsgIn       = prometheus.NewDesc("kbgp_bgp_peer_messages_received_total", "BGP messages received from the peer.", peerLabels, nil)
	descMsgOut      = prometheus.NewDesc("kbgp_bgp_peer_messages_sent_total", "BGP messages sent to the peer.", peerLabels, nil)
	descUpdIn       = prometheus.NewDesc("kbgp_bgp_peer_updates_received_total", "UPDATE messages received from the peer.", peerLabels, nil)
	descUpdOut      = prometheus.NewDesc("kbgp_bgp_peer_updates_sent_total", "UPDATE messages sent to the peer.", peerLabels, nil)
	descEstablished = prometheus.NewDesc("kbgp_bgp_peer_established_total", "Transitions of the session into Established.", peerLabels, nil)
	descNotif       = prometheus.NewDesc("kbgp_bgp_peer_notifications_total", "NOTIFICATION messages by direction, code and subcode.",
		[]string{"peer", "session", "direction", "code", "subcode"}, nil)
	descRIBPrefixes = prometheus.NewDesc("kbgp_rib_prefixes", "Prefixes in the Loc-RIB.", []string{"family"}, nil)
	descRIBPaths    = prometheus.NewDesc("kbgp_rib_paths", "Paths in the Loc-RIB, all prefixes and families.", nil, nil)
	descFIBRoutes   = prometheus.NewDesc("kbgp_fib_routes", "Routes kbgp currently has installed in the kernel.", nil, nil)
	descFIBOps      = prometheus.NewDesc("kbgp_fib_operations_total", "Kernel route operations by kind.", []string{"op"}, nil)
	descFIBErrors   = prometheus.NewDesc("kbgp_fib_errors_total", "Kernel route operations that failed.", nil, nil)
)

// New returns a collector reading src.
func New(src NodeSource, opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 1500 * time.Millisecond
	}
	if opts.ReconcileBuckets == nil {
		opts.ReconcileBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)
	}
	return &Collector{
		src:  src,
		opts: opts,
		reconcile: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kbgp_reconcile_duration_seconds",
			Help:    "Duration of the agent's reconcile passes (config compile and FIB sync).",
			Buckets: opts.ReconcileBuckets,
		}),
	}
}

// ObserveReconcile records one reconcile pass; the agent calls it.
func (c *Collector) ObserveReconcile(d time.Duration) {
	c.reconcile.Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descRunning, descGR, descState, descAdminUp, descUptime, descRcvd, descAcc, descAdv,
		descMsgIn, descMsgOut, descUpdIn, descUpdOut, descEstablished, descNotif,
		descRIBPrefixes, descRIBPaths, descFIBRoutes, descFIBOps, descFIBErrors} {
		ch <- d
	}
	c.reconcile.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.reconcile.Collect(ch)
	n, ok := c.read()
	if !ok {
		ch <- gauge(descUp, 0)
		return
	}
	ch <- gauge(descUp, 1)
	ch <- gauge(descRunning, b2f(n.Running))
	ch <- gauge(descGR, b2f(n.GracefulRestart))
	now := c.opts.Now()
	for i := range n.Peers {
		p := &n.Peers[i]
		addr, name := p.Address.Unmap().String(), p.SessionName()
		for _, st := range sessionStates {
			ch <- gauge(descState, b2f(p.State == st), addr, name, string(p.Type), string(st))
		}
		ch <- gauge(descAdminUp, b2f(p.Admin == status.AdminUp), addr, name)
		up := 0.0
		if p.State == status.Established && !p.Since.IsZero() {
			up = max(0, now.Sub(p.Since).Seconds())
		}
		ch <- gauge(descUptime, up, addr, name)
		for _, f := range p.Prefixes {
			ch <- gauge(descRcvd, float64(f.Received), addr, name, f.Family)
			ch <- gauge(descAcc, float64(f.Accepted), addr, name, f.Family)
			ch <- gauge(descAdv, float64(f.Advertised), addr, name, f.Family)
		}
		k := &p.Counters
		ch <- counter(descMsgIn, k.MessagesIn, addr, name)
		ch <- counter(descMsgOut, k.MessagesOut, addr, name)
		ch <- counter(descUpdIn, k.UpdatesIn, addr, name)
		ch <- counter(descUpdOut, k.UpdatesOut, addr, name)
		ch <- counter(descEstablished, k.EstablishedCount, addr, name)
		for _, nc := range k.Notifications {
			dir := "received"
			if nc.Sent {
				dir = "sent"
			}
			ch <- counter(descNotif, nc.Count, addr, name, dir,
				strconv.Itoa(int(nc.Code)), strconv.Itoa(int(nc.Subcode)))
		}
	}
	ch <- gauge(descRIBPrefixes, float64(n.RIB.Prefixes4), "ipv4")
	ch <- gauge(descRIBPrefixes, float64(n.RIB.Prefixes6), "ipv6")
	ch <- gauge(descRIBPaths, float64(n.RIB.Paths))
	ch <- gauge(descFIBRoutes, float64(n.FIB.Routes))
	ch <- counter(descFIBOps, n.FIB.Adds, "add")
	ch <- counter(descFIBOps, n.FIB.Deletes, "delete")
	ch <- counter(descFIBErrors, n.FIB.Errors)
}

// read fetches the node, giving up after the timeout even if the source
// ignores its context, so that a wedged agent cannot hang scrapes.
func (c *Collector) read() (status.Node, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	type result struct {
		n   status.Node
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := c.src.Node(ctx)
		ch <- result{n, err}
	}()
	select {
	case r := <-ch:
		return r.n, r.err == nil
	case <-ctx.Done():
		return status.Node{}, false
	}
}

// Handler serves c (and Go runtime and process metrics) in the Prometheus
// exposition format, for ctlapi.Options.Metrics.
func Handler(c *Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// gauge and counter build const metrics. Label values come from the
// provider (session names from configuration), so invalid UTF-8 is
// replaced rather than rejected; any other error becomes an invalid
// metric, which the registry reports, instead of a panic.
func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return constMetric(d, prometheus.GaugeValue, v, labels)
}

func counter(d *prometheus.Desc, v uint64, labels ...string) prometheus.Metric {
	return constMetric(d, prometheus.CounterValue, float64(v), labels)
}

func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) prometheus.Metric {
	for i, l := range labels {
		labels[i] = strings.ToValidUTF8(l, "\uFFFD")
	}
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
