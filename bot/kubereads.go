package bot

import "time"

// KubeEvent is one Kubernetes event as `kubectl get events` lists it.
type KubeEvent struct {
	// Type is Normal or Warning.
	Type, Reason, Message string
	// Kind and Name are the object the event is about.
	Kind, Name string
	// Count is how many times it happened (1 at least).
	Count int32
	// Last is when it last happened.
	Last time.Time
}

// EventsReport is the recent events of the namespace or of one service.
type EventsReport struct {
	Namespace, Service string // Service "" for the whole namespace
	Since              time.Duration
	// Events are the matching events, newest first (warnings first when
	// asked), at most the reader's cap.
	Events []KubeEvent
	// Matched counts every matching event read, Warnings the warnings
	// among them: more than len(Events) when the cap cut the list.
	Matched, Warnings int
	// Incomplete: the namespace held more events than one command reads,
	// so older ones may be missing.
	Incomplete bool
}

// HPAMetric is one metric of an autoscaler: what it measures now against
// its target, both as `kubectl describe hpa` writes them ("52%", "200m").
type HPAMetric struct {
	Name, Current, Target string
}

// HPA is a HorizontalPodAutoscaler (autoscaling/v2).
type HPA struct {
	Name, Target               string // Target: "Deployment/orders-service"
	Current, Desired, Min, Max int32
	Metrics                    []HPAMetric
	Conditions                 []Condition
}

// Certificate is a cert-manager Certificate.
type Certificate struct {
	Name string
	// Ready is the Ready condition's status ("True", "False", "Unknown";
	// "" when it has none yet), Reason and Message its own.
	Ready, Reason, Message string
	// NotAfter, RenewalTime, LastFailure are zero when the status has no
	// such time.
	NotAfter, RenewalTime, LastFailure time.Time
	// Issuer is the issuerRef: "ClusterIssuer/letsencrypt".
	Issuer string
}

// CertificatesReport is the namespace's Certificates, or that
// cert-manager is not installed.
type CertificatesReport struct {
	Namespace    string
	Installed    bool
	Certificates []Certificate // soonest expiry first
	// Incomplete: there were more than one command reads.
	Incomplete bool
}

// GitOpsObject is a Flux object: a Kustomization, GitRepository or
// HelmRelease.
type GitOpsObject struct {
	Kind, Name string
	// Ready is the Ready condition's status ("" when none), Reason and
	// Message its own.
	Ready, Reason, Message string
	Suspended              bool
	// Revision: lastAppliedRevision (Kustomization), the artifact's
	// revision (GitRepository), lastAttemptedRevision (HelmRelease).
	Revision string
}

// GitOpsReport is the namespace's Flux objects.
type GitOpsReport struct {
	Namespace string
	// Served names the Flux kinds the cluster serves; none: Flux is not
	// installed.
	Served  []string
	Objects []GitOpsObject // not ready first, then by kind and name
	// Incomplete: a kind had more objects than one command reads.
	Incomplete bool
}
