// Package k8s is kbgp's Kubernetes datastore: it serves the kbgp
// resources (package api) from CustomResourceDefinitions in the kbgp.io
// group, or, in Calico compatibility mode, from Calico's own
// crd.projectcalico.org/v1 objects, merged with what Kubernetes itself
// knows: Node objects (labels, the projectcalico.org/* BGP annotations,
// spec.podCIDRs, the InternalIP) and Services with their EndpointSlices.
//
// Datastore implements store.Datastore over the API server with
// client-go informers, so the agent compiles the same desired state
// (internal/config) from a cluster as from the file store. Services reach
// the compiler as resources of kind "Service" (ServiceResource); see
// Services.
package k8s
