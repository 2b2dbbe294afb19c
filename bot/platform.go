package bot

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/bakewise/chatops/policy"
)

// The platform as the commands see it: the Kubernetes state the read-only
// commands show and the plans of the ones that change it (integrations/
// kubernetes fills these from the Kubernetes API), and the Alertmanager
// silences chatops creates (integrations/alertmanager).

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

// NodeProblem is a node whose Ready condition is not True.
type NodeProblem struct {
	Name string
	// Ready is the Ready condition's status: False (the kubelet says
	// so), Unknown (the kubelet stopped posting), or "" (none yet).
	Ready           string
	Reason, Message string
	// For is how long the condition has held.
	For time.Duration
}

// HealthReport is what the operations guide's health check looks at.
type HealthReport struct {
	Namespace     string
	Service       string // "" for the whole namespace
	Pods          int
	Problems      []PodProblem
	Deployments   []DeploymentHealth
	NodesNotReady []NodeProblem
	// MetricsAvailable is false when metrics.k8s.io is absent; then the
	// top lists are empty.
	MetricsAvailable  bool
	TopMemory, TopCPU []PodUsage
}

// LogOptions select log lines.
type LogOptions struct {
	Container string
	Previous  bool
	Since     time.Duration
	Tail      int64
	// LimitBytes is the most one request reads across all its pods, a
	// budget they share (0: the reader's own ceiling, which a larger
	// value cannot raise).
	LimitBytes int64
}

// PodLogs are one container's lines.
type PodLogs struct {
	Pod, Container string
	Lines          []string
	// Truncated: the pod's share of the byte budget ran out before its
	// logs did, so lines are missing.
	Truncated bool
	// CutLines counts lines longer than the reader keeps: each is cut
	// there, marked, and the lines after it are still read.
	CutLines int
	// NoPrevious: the previous logs were asked for, and this container
	// has not restarted, so it has none.
	NoPrevious bool
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

// RolloutProgress is how a Deployment's rollout stands while it is
// followed after an approved action.
type RolloutProgress struct {
	Desired, Updated, Available int32
	// Elapsed is the time since the follow started.
	Elapsed time.Duration
	State   RolloutState
	// Reason and Message say what stopped the rollout (State
	// RolloutStopped) or the follow (RolloutLost): a Progressing
	// condition's reason (ProgressDeadlineExceeded), or a container's
	// waiting reason (ImagePullBackOff) in Pod, a pod of the new
	// ReplicaSet.
	Reason, Message, Pod string
}

// RolloutState is where a followed rollout stands.
type RolloutState int

const (
	// RolloutProgressing: not finished, nothing wrong seen yet.
	RolloutProgressing RolloutState = iota
	// RolloutComplete: every desired replica is updated and available.
	RolloutComplete
	// RolloutStopped: a condition or a stuck pod of the new ReplicaSet
	// stopped it.
	RolloutStopped
	// RolloutUnfollowed: the follow reached its time bound first.
	RolloutUnfollowed
	// RolloutLost: the Deployment could not be read or watched.
	RolloutLost
)

// Final reports whether the follow ends at this state.
func (s RolloutState) Final() bool { return s != RolloutProgressing }

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

// ScalePlan is what a scale would do.
type ScalePlan struct {
	Namespace, Service string
	From, To           int32
	Version            string
	// HPA names the HorizontalPodAutoscaler that manages the deployment
	// ("" when none), with its bounds: it will override a manual scale.
	HPA            string
	HPAMin, HPAMax int32
}

// RollbackPlan is what a rollback would do.
type RollbackPlan struct {
	Namespace, Service       string
	FromRevision, ToRevision int64
	FromImages, ToImages     []string
	// Changes lists the pod template's differences, one per line
	// ("container api: image a → b").
	Changes []string
	Version string
}

// RestartPlan is what a restart would do.
type RestartPlan struct {
	Namespace, Service string
	// Pods is how many pods the rollout will replace.
	Pods    int
	Version string
	// Changes lists the pod template's differences, as the server-side
	// dry run of the write returned it.
	Changes []string
}

// StaleError is an action refused because its target is no longer the
// version it was planned against.
type StaleError struct {
	Kind, Name string
	Reason     string
}

func (e *StaleError) Error() string { return e.Kind + " " + e.Name + " changed: " + e.Reason }

// Silence is an Alertmanager silence as chatops creates it.
type Silence struct {
	Matchers []policy.SilenceMatcher
	StartsAt time.Time
	EndsAt   time.Time
	// CreatedBy is the chat user's name; Comment their reason.
	CreatedBy string
	Comment   string
}

// CurrentGroups is the optional capability of a platform to read a person's
// groups as the platform holds them now (Discord: their roles in the guild
// of channel), rather than as a request reported them. The two-person rule
// reads it at each approval and again at execution: roles reported with a
// request, or stored with its votes, may have been taken away since.
//
// Implementations may cache an answer for at most a minute and never answer
// from an older copy. An error means the groups are not confirmed; the
// decision that needed them is refused, never made on the reported roles.
// ErrNotMember says the person is not (or no longer) a member there.
type CurrentGroups interface {
	CurrentGroups(ctx context.Context, userID, channel string) ([]string, error)
}

// ErrNotMember is a person who is not a member of the place a channel
// belongs to (a Discord guild they left): they hold no role there.
var ErrNotMember = errors.New("not a member")

// ErrRolesUnconfirmed marks a role that could not be confirmed with its
// platform: whatever needed it is refused.
var ErrRolesUnconfirmed = errors.New("roles not confirmed with the platform")

// PlatformName is a platform as people write it ("discord" → "Discord").
func PlatformName(platform string) string {
	if platform == "" {
		return "the chat platform"
	}
	return strings.ToUpper(platform[:1]) + platform[1:]
}
