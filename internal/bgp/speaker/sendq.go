package speaker

// The export queue of a peer: batches of encoded messages the RIB
// goroutine produced, sent in order through the peer's session by
// routineSend. The queue is a slice that grows only while batches wait and
// is dropped when it drains, and routineSend runs only while there is
// something to send: an idle peer holds neither a buffer nor a goroutine.
// (A channel of ExportQueueLen batches was 32 KiB per peer before any
// route was sent, and an idle sender goroutine another 8 KiB of stack;
// with 500 peers, 20 MB of the reflector's heap and stacks.)

// push queues b for p and starts the sender if none runs. It reports false,
// queueing nothing, when limit batches are already waiting: the peer is
// not keeping up.
func (p *peer) push(b batch, limit int) bool {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.stopped {
		return true
	}
	if len(p.queue) >= limit {
		return false
	}
	p.queue = append(p.queue, b)
	if !p.sending {
		p.sending = true
		p.wg.Add(1)
		go p.routineSend()
	}
	return true
}

// queued is the number of batches waiting.
func (p *peer) queued() int {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return len(p.queue)
}

// next takes the oldest batch, or reports false (and marks the sender
// stopped) when the queue is empty or the peer is stopping.
func (p *peer) next() (batch, bool) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if len(p.queue) == 0 || p.ctx.Err() != nil {
		p.sending = false
		clear(p.queue)
		p.queue = nil
		return batch{}, false
	}
	b := p.queue[0]
	p.queue[0] = batch{}
	p.queue = p.queue[1:]
	return b, true
}

// routineSend sends queued batches in order through the session until the
// queue is empty. push starts it; the peer's WaitGroup waits for it.
func (p *peer) routineSend() {
	defer p.wg.Done()
	for {
		b, ok := p.next()
		if !ok {
			return
		}
		// An error means the session left the batch's Established
		// period (or the peer is stopping): the batch is dropped.
		if p.sess.SendBatch(p.ctx, b.epoch, b.msgs) != nil {
			continue
		}
		for _, m := range b.more {
			if p.sess.SendBatch(p.ctx, b.epoch, m) != nil {
				break
			}
		}
	}
}

// stopSending stops the sender and waits for it; later pushes are
// ignored.
func (p *peer) stopSending() {
	p.stopSend()
	p.qmu.Lock()
	p.stopped = true
	p.qmu.Unlock()
	p.wg.Wait()
}
