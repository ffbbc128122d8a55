package k8s

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbgp/kbgp/api"
)

// Mode selects where the datastore keeps the kbgp kinds other than Node.
type Mode int

const (
	// ModeKBGP keeps BGPConfiguration, BGPPeer, BGPFilter and IPPool as
	// kbgp.io/v1 custom resources (deploy/crds).
	ModeKBGP Mode = iota
	// ModeCalico reads and writes Calico's own crd.projectcalico.org/v1
	// custom resources, so kbgp can take over BGP in a cluster that
	// already holds Calico resources. Their specs are Calico's
	// projectcalico.org/v3 specs, so kbgp extension fields are rejected.
	ModeCalico
)

// ParseMode maps "kbgp" or "calico" to a Mode.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "kbgp":
		return ModeKBGP, nil
	case "calico":
		return ModeCalico, nil
	}
	return 0, fmt.Errorf("kubernetes datastore mode %q: want kbgp (kbgp.io/v1 CRDs) or calico (crd.projectcalico.org/v1 CRDs)", s)
}

func (m Mode) String() string {
	if m == ModeCalico {
		return "calico"
	}
	return "kbgp"
}

// Group is the API group of kbgp's custom resources.
const Group = "kbgp.io"

// Version is the version of kbgp's custom resources.
const Version = "v1"

// CalicoGroup is the API group of the custom resources Calico's
// Kubernetes datastore keeps its projectcalico.org/v3 resources in.
const CalicoGroup = "crd.projectcalico.org"

// KindService is the kind of ServiceResource in Watch events.
const KindService = "Service"

// KindNodeBGPStatus is the kind of the per-node status resource
// (nodebgpstatuses.kbgp.io), kbgp's CalicoNodeStatus.
const KindNodeBGPStatus = "NodeBGPStatus"

// crdKinds are the kinds stored as custom resources, with their plural
// resource names (identical in both groups).
var crdKinds = []struct {
	kind, plural string
}{
	{api.KindBGPConfiguration, "bgpconfigurations"},
	{api.KindBGPPeer, "bgppeers"},
	{api.KindBGPFilter, "bgpfilters"},
	{api.KindIPPool, "ippools"},
}

// gvr returns the resource for a custom-resource kind in mode m.
func (m Mode) gvr(kind string) (schema.GroupVersionResource, bool) {
	for _, k := range crdKinds {
		if k.kind == kind {
			if m == ModeCalico {
				return schema.GroupVersionResource{Group: CalicoGroup, Version: "v1", Resource: k.plural}, true
			}
			return schema.GroupVersionResource{Group: Group, Version: Version, Resource: k.plural}, true
		}
	}
	return schema.GroupVersionResource{}, false
}

// storedAPIVersion is the apiVersion of the custom resources in mode m.
func (m Mode) storedAPIVersion() string {
	if m == ModeCalico {
		return CalicoGroup + "/v1"
	}
	return api.KBGPV1
}

// kbgpAPIVersion is the api package's apiVersion the stored objects'
// specs are decoded as: Calico's CRDs hold projectcalico.org/v3 specs.
func (m Mode) kbgpAPIVersion() string {
	if m == ModeCalico {
		return api.CalicoV3
	}
	return api.KBGPV1
}

// nodeStatusGVR is the per-node status resource.
var nodeStatusGVR = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "nodebgpstatuses"}
