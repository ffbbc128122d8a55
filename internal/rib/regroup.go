package rib

// RenameExportPolicies changes the export policy names of peers in place,
// moving no peer between update groups. The policy name is part of the
// update-group key, so that peers with equal export policies share one
// group; when a datastore change gives every member of a group the same
// new policy (an IPPool change alters every session's export rules
// alike), the group is renamed and keeps its Adj-RIB-Out, and the next
// Drain sends its members exactly the difference the new policy makes.
//
// It succeeds only if, for every update group with a member in names, all
// of the group's members are in names with one and the same new name, and
// no two groups end up with the same key. Otherwise it changes nothing and
// returns false: the caller moves those peers some other way (the speaker
// resets their sessions). Peers that are down only have their
// configuration changed; they join a group when they come up. pols maps
// peers to their new export policy; only Name and ReadOnly are taken, the
// function stays (the speaker's are indirections that it swaps itself).
func (r *RIB) RenameExportPolicies(pols map[PeerID]Policy) bool {
	type plan struct {
		g   *group
		pol Policy
	}
	var plans []plan
	seen := map[*group]Policy{}
	same := func(a, b Policy) bool { return a.Name == b.Name && a.ReadOnly == b.ReadOnly }
	for id, pol := range pols {
		p, err := r.peerByID(id)
		if err != nil {
			return false
		}
		g := p.group
		if g == nil {
			continue
		}
		if n, ok := seen[g]; ok {
			if !same(n, pol) {
				return false
			}
			continue
		}
		seen[g] = pol
		for _, m := range g.members {
			if n, ok := pols[m]; !ok || !same(n, pol) {
				return false
			}
		}
		plans = append(plans, plan{g, pol})
	}
	// Compute the new keys with the new names in place, and restore them
	// if any key collides.
	old := make(map[PeerID]Policy, len(pols))
	for id, pol := range pols {
		p := r.peers[id]
		old[id] = p.cfg.Export
		p.cfg.Export.Name, p.cfg.Export.ReadOnly = pol.Name, pol.ReadOnly
	}
	renamed := func(g *group) bool { _, ok := seen[g]; return ok }
	keys := make([]groupKey, len(plans))
	taken := map[groupKey]bool{}
	ok := true
	for i, pl := range plans {
		k := exportKey(pl.g.rep)
		if g := r.keyGroup[k]; (g != nil && g != pl.g && !renamed(g)) || taken[k] {
			ok = false
			break
		}
		keys[i], taken[k] = k, true
	}
	if !ok {
		for id, pol := range old {
			r.peers[id].cfg.Export = pol
		}
		return false
	}
	r.outGen++
	for _, pl := range plans {
		delete(r.keyGroup, pl.g.key)
	}
	for i, pl := range plans {
		pl.g.key = keys[i]
		r.keyGroup[keys[i]] = pl.g
		// Every prefix's export is recomputed under the new policy.
		for _, f := range pl.g.fams {
			if t := r.tables[f.Family]; t != nil {
				for pfx, d := range t.all() {
					r.markDirty(t, pfx, d)
				}
			}
		}
	}
	return true
}

// MoveExport gives one peer a new export policy (Name and ReadOnly; the
// function stays) and, when it is
// established, moves it to the update group of peers with that export
// behaviour (created if there is none). existed reports that the group
// was there before: the caller then sends the peer the group's Adj-RIB-Out
// (AdjRIBOut); a new group's is computed by the next Drain, which reports
// it as changes for its members. Either way the caller withdraws what the
// peer had been sent and the new group does not advertise.
func (r *RIB) MoveExport(id PeerID, pol Policy) (existed bool, err error) {
	p, err := r.peerByID(id)
	if err != nil {
		return false, err
	}
	if !p.up {
		p.cfg.Export.Name, p.cfg.Export.ReadOnly = pol.Name, pol.ReadOnly
		return false, nil
	}
	r.leaveGroup(p)
	p.cfg.Export.Name, p.cfg.Export.ReadOnly = pol.Name, pol.ReadOnly
	existed = r.keyGroup[exportKey(p)] != nil
	r.joinGroup(p)
	return existed, nil
}

// SetImportReadOnly changes whether a peer's import policy is read-only
// (Policy.ReadOnly) in place, as the speaker swaps the policy function
// behind it: a rule that starts or stops modifying attributes.
func (r *RIB) SetImportReadOnly(id PeerID, ro bool) error {
	p, err := r.peerByID(id)
	if err != nil {
		return err
	}
	p.cfg.Import.ReadOnly = ro
	return nil
}
