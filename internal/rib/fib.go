package rib

// FIB calls fn with the forwarding state of every prefix that has a best
// path, as the last Drain reported it (the sum of every FIBChange so far),
// until fn returns false. It lets a user that needs the whole table once
// (a new FIB subscriber) read it here instead of mirroring every
// FIBChange. NextHops is shared and must not be modified; like Drain's
// results it is valid until the next change of the RIB. With Options.NoFIB
// there is no forwarding state and fn is never called.
func (r *RIB) FIB(fn func(FIBChange) bool) {
	for _, t := range r.tables {
		if t.fibs == nil {
			continue
		}
		for pfx, d := range t.all() {
			fs := t.fibAt(d.id())
			if fs.best == 0 {
				continue
			}
			c := FIBChange{Family: t.fam, Prefix: pfx, Best: r.intern.at(fs.best), Local: d.fibLocal()}
			if fs.nh != 0 {
				c.NextHops = r.nh.at(fs.nh).addrs
			}
			if !fn(c) {
				return
			}
		}
	}
}
