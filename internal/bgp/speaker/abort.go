package speaker

// Abort stops the speaker like Close, but closes every session's TCP
// connection without sending a NOTIFICATION. The peers see a transport
// failure, which under graceful restart makes them keep our routes as
// stale until we come back (RFC 4724 §4.2: "When the Receiving Speaker
// detects termination of the TCP session ... it MUST retain the routes
// received from the peer"); without the RFC 8538 N bit a Cease would make
// them flush the routes. The agent uses it for a restart-preserving exit.
func (s *Speaker) Abort() {
	s.mu.Lock()
	peers := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	for _, p := range peers {
		p.sess.CloseWith(nil)
	}
	s.Close()
}
