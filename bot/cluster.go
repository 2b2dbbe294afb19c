package bot

import (
	"context"
	"time"
)

// The platform's state as the read-only commands show it. integrations/
// kubernetes fills these from the Kubernetes API.

// PodProblem is a pod that is not Running (or Succeeded) and ready, or whose
// containers are in trouble.
type PodProblem struct {
	Name     string
	Service  string
	Phase    string
	Ready    string // "1/2"
	Reason   string // CrashLoopBackOff, ImagePullBackOff, OOMKilled, NotReady, Pending...
	Restarts int32
	Age      time.Duration
}

// DeploymentHealth is a deployment's ready versus desired replicas.
type DeploymentHealth struct {
	Name             string
	Desired, Ready   int32
	Updated, Unavail int32
}

// PodUsage is a pod's resource use from metrics.k8s.io.
type PodUsage struct {
	Name        string
	CPUMilli    int64
	MemoryBytes int64
}

// HealthReport is what the operations guide's health check looks at.
type HealthReport struct {
	Namespace     string
	Service       string // "" for the whole namespace
	Pods          int
	Problems      []PodProblem
	Deployments   []DeploymentHealth
	NodesNotReady []string
	// MetricsAvailable is false when metrics.k8s.io is absent; then the
	// top lists are empty.
	MetricsAvailable  bool
	TopMemory, TopCPU []PodUsage
}

// LogOptions select log lines.
type LogOptions struct {
	Container  string
	Previous   bool
	Since      time.Duration
	Tail       int64
	LimitBytes int64
}

// PodLogs are one container's lines.
type PodLogs struct {
	Pod, Container string
	Lines          []string
	Truncated      bool
}

// Revision is one entry of a deployment's rollout history.
type Revision struct {
	Number      int64
	Images      []string
	ChangeCause string
	Created     time.Time
	Current     bool
	Replicas    int32
}

// RolloutStatus is a deployment's rollout as `kubectl rollout status` sees it.
type RolloutStatus struct {
	Name                                        string
	Desired, Updated, Ready, Available, Unavail int32
	Generation, ObservedGeneration              int64
	Paused                                      bool
	Conditions                                  []Condition
	Done                                        bool
	Message                                     string
}

// Condition is a status condition.
type Condition struct {
	Type, Status, Reason, Message string
	Since                         time.Time
}

// NotFoundError is an unknown name, with a suggestion when one is close.
type NotFoundError struct {
	Kind, Name, Namespace string
	Suggestion            string
}

func (e *NotFoundError) Error() string {
	msg := "no " + e.Kind + " " + e.Name + " in " + e.Namespace
	if e.Suggestion != "" {
		msg += "; did you mean " + e.Suggestion + "?"
	}
	return msg
}

// Cluster is the read side of the platform the commands need.
type Cluster interface {
	Health(ctx context.Context, service string) (HealthReport, error)
	Logs(ctx context.Context, service string, opts LogOptions) ([]PodLogs, error)
	History(ctx context.Context, service string) ([]Revision, error)
	Status(ctx context.Context, service string) (RolloutStatus, error)
	// Services lists the deployments whose names start with prefix.
	Services(ctx context.Context, prefix string) ([]string, error)
}
