package fsm

import "sync"

// bufPool pools byte buffers of two sizes: the small one for what a
// quiet connection needs at a time (a message or two, a handshake), the
// large one for a stream. Sessions share them, so a connection holds a
// buffer only while it reads or writes, and a hundred connections coming
// up together do not each hold a large one for a few hundred bytes.
type bufPool struct {
	small, large int
	sp, lp       sync.Pool
}

func newBufPool(small, large int) *bufPool { return &bufPool{small: small, large: large} }

// get returns a buffer of the small size if n fits it, else of the large
// size (callers handle more than that themselves), at its full length.
func (p *bufPool) get(n int) *[]byte {
	if n <= p.small {
		return take(&p.sp, p.small)
	}
	return take(&p.lp, p.large)
}

func take(sp *sync.Pool, size int) *[]byte {
	if b, _ := sp.Get().(*[]byte); b != nil {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size)
	return &b
}

// put returns a buffer from get to its pool; one of another capacity is
// left to the GC.
func (p *bufPool) put(b *[]byte) {
	switch cap(*b) {
	case p.small:
		p.sp.Put(b)
	case p.large:
		p.lp.Put(b)
	}
}
