package fsm

import "testing"

// TestBufPool: get hands out the small size up to it and the large size
// beyond, at full length; put takes back only those two sizes (a buffer
// of another capacity, such as an extended message's body, is not kept
// for the next get).
func TestBufPool(t *testing.T) {
	p := newBufPool(8, 64)
	for _, tc := range []struct{ n, want int }{{0, 8}, {8, 8}, {9, 64}, {64, 64}, {1000, 64}} {
		b := p.get(tc.n)
		if len(*b) != tc.want || cap(*b) != tc.want {
			t.Errorf("get(%d): len %d cap %d, want %d", tc.n, len(*b), cap(*b), tc.want)
		}
		*b = (*b)[:1] // a user reslices it; get restores the length
		p.put(b)
	}
	if b := p.get(3); len(*b) != 8 {
		t.Errorf("a reused small buffer has length %d, want 8", len(*b))
	}
	foreign := make([]byte, 100)
	p.put(&foreign)
	if b := p.get(100); cap(*b) != 64 {
		t.Errorf("get(100) after putting a 100-byte buffer: capacity %d, want 64", cap(*b))
	}
}
