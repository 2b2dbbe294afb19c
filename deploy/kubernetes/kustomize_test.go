// Package kubernetes_test builds every shipped kustomization with
// kustomize's own Go API, as `kubectl apply -k` would, and checks what the
// build holds: the objects each install path needs, pinned images, the
// hardening of every pod template, no secret inline, and a ConfigMap that
// is the in-tree configuration, valid by the binary's own loader. test/kube
// then applies the same builds to a real API server.
package kubernetes_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/bakewise/chatops/bot/config"
)

const (
	namespace = "bakery-ia"
	// configFile is the configuration the base turns into the
	// chatops-config ConfigMap; the one copy in the repository.
	configFile = "base/bakery-ia.yaml"
	// configKey is its key in the ConfigMap: serve --config names it.
	configKey  = "chatops.yaml"
	secretName = "chatops-secrets"
)

// build is one kustomization's output, decoded.
type build struct {
	objs []*unstructured.Unstructured
}

// kustomize builds dir as kubectl apply -k does.
func kustomize(t *testing.T, dir string) build {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	raw, err := m.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var b build
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: decode the build: %v", dir, err)
		}
		if len(obj.Object) > 0 {
			b.objs = append(b.objs, &obj)
		}
	}
	return b
}

// withAuditVerify builds overlay with the audit-verify component, the way
// the README tells a user to: a kustomization of their own that names
// both. Kustomize wants relative paths.
func withAuditVerify(t *testing.T, overlay string) build {
	t.Helper()
	dir := t.TempDir()
	rel := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := filepath.Rel(dir, abs)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	k := "namespace: " + namespace + "\nresources:\n  - " + rel(overlay) +
		"\ncomponents:\n  - " + rel("components/audit-verify") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	return kustomize(t, dir)
}

// all returns the objects of kind, converted to T.
func all[T any](t *testing.T, b build, kind string) []*T {
	t.Helper()
	var out []*T
	for _, o := range b.objs {
		if o.GetKind() != kind {
			continue
		}
		v := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, v, true); err != nil {
			t.Fatalf("%s %s: %v", kind, o.GetName(), err)
		}
		out = append(out, v)
	}
	return out
}

// one returns the object of kind and name, failing t when it is missing.
func one[T any](t *testing.T, b build, kind, name string) *T {
	t.Helper()
	for _, o := range b.objs {
		if o.GetKind() == kind && o.GetName() == name {
			v := new(T)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, v, true); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return v
		}
	}
	t.Fatalf("the build has no %s %s", kind, name)
	return nil
}

// podTemplate is a pod template and where it is.
type podTemplate struct {
	owner string
	spec  corev1.PodSpec
}

func podTemplates(t *testing.T, b build) []podTemplate {
	var out []podTemplate
	for _, d := range all[appsv1.Deployment](t, b, "Deployment") {
		out = append(out, podTemplate{"Deployment " + d.Name, d.Spec.Template.Spec})
		// A server is probed: ready when its store answers, restarted
		// when it hangs.
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
				c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("Deployment %s container %s: want a readiness probe on /readyz and a liveness probe on /healthz", d.Name, c.Name)
			}
		}
	}
	for _, c := range all[batchv1.CronJob](t, b, "CronJob") {
		out = append(out, podTemplate{"CronJob " + c.Name, c.Spec.JobTemplate.Spec.Template.Spec})
	}
	for _, kind := range []string{"StatefulSet", "DaemonSet", "Job", "Pod", "ReplicaSet"} {
		for _, o := range b.objs {
			if o.GetKind() == kind {
				t.Errorf("the build has a %s (%s) that this test does not check", kind, o.GetName())
			}
		}
	}
	return out
}

// The checks every build passes, whatever the overlay.
func checkCommon(t *testing.T, b build, wantNamespace string) {
	t.Helper()
	kinds := map[string]int{}
	for _, o := range b.objs {
		kinds[o.GetKind()]++
		if o.GetKind() == "Secret" {
			t.Errorf("the build holds Secret %s: secrets are created by the user (chatops-secrets), never shipped", o.GetName())
		}
		namespaced := !slices.Contains([]string{"ClusterRole", "ClusterRoleBinding", "Namespace"}, o.GetKind())
		if namespaced && o.GetNamespace() != wantNamespace {
			t.Errorf("%s %s is in namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), wantNamespace)
		}
	}
	for _, kind := range []string{"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
		"ClusterRoleBinding", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget"} {
		if kinds[kind] == 0 {
			t.Errorf("the build has no %s", kind)
		}
	}
	if wantNamespace != "" {
		for _, rb := range all[rbacv1.RoleBinding](t, b, "RoleBinding") {
			checkSubjects(t, "RoleBinding "+rb.Name, rb.Subjects, wantNamespace)
		}
		for _, crb := range all[rbacv1.ClusterRoleBinding](t, b, "ClusterRoleBinding") {
			checkSubjects(t, "ClusterRoleBinding "+crb.Name, crb.Subjects, wantNamespace)
		}
	}

	// The ConfigMap is the in-tree file, byte for byte.
	want, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, cm := range all[corev1.ConfigMap](t, b, "ConfigMap") {
		configMaps[cm.Name] = cm
	}
	pvcs := map[string]bool{}
	for _, pvc := range all[corev1.PersistentVolumeClaim](t, b, "PersistentVolumeClaim") {
		pvcs[pvc.Name] = true
	}
	sas := map[string]bool{"default": true}
	for _, sa := range all[corev1.ServiceAccount](t, b, "ServiceAccount") {
		sas[sa.Name] = true
	}

	templates := podTemplates(t, b)
	if len(templates) == 0 {
		t.Fatal("the build has no pod template")
	}
	image := ""
	for _, pt := range templates {
		checkHardened(t, pt)
		for _, c := range append(slices.Clone(pt.spec.InitContainers), pt.spec.Containers...) {
			checkImage(t, pt.owner, c)
			if image == "" {
				image = c.Image
			} else if c.Image != image {
				t.Errorf("%s container %s runs %s, another container %s: one release, one image", pt.owner, c.Name, c.Image, image)
			}
			checkNoInlineSecret(t, pt.owner, c)
		}
		if !sas[pt.spec.ServiceAccountName] && pt.spec.ServiceAccountName != "" {
			t.Errorf("%s runs as ServiceAccount %s, which the build does not create", pt.owner, pt.spec.ServiceAccountName)
		}
		// Every volume names something the build holds (kustomize's hash
		// suffix followed), except the Secret the user creates.
		mountedConfig := false
		for _, v := range pt.spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				cm, ok := configMaps[v.ConfigMap.Name]
				if !ok {
					t.Errorf("%s mounts ConfigMap %s, which the build does not hold", pt.owner, v.ConfigMap.Name)
					continue
				}
				if got := cm.Data[configKey]; got != string(want) {
					t.Errorf("%s: ConfigMap %s's %s differs from %s", pt.owner, cm.Name, configKey, configFile)
				}
				mountedConfig = true
			case v.PersistentVolumeClaim != nil:
				if !pvcs[v.PersistentVolumeClaim.ClaimName] {
					t.Errorf("%s mounts claim %s, which the build does not hold", pt.owner, v.PersistentVolumeClaim.ClaimName)
				}
			case v.Secret != nil:
				if v.Secret.SecretName != secretName {
					t.Errorf("%s mounts Secret %s; the install creates %s only", pt.owner, v.Secret.SecretName, secretName)
				}
			}
		}
		if !mountedConfig {
			t.Errorf("%s does not mount the configuration", pt.owner)
		}
	}
	checkNetworkPolicy(t, b)
}

func checkSubjects(t *testing.T, what string, subjects []rbacv1.Subject, ns string) {
	t.Helper()
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Namespace != ns {
			t.Errorf("%s binds ServiceAccount %s/%s, want namespace %s", what, s.Namespace, s.Name, ns)
		}
	}
}

// tagged is registry/name:tag, the tag a release's (v1.2.3), or a digest.
var tagged = regexp.MustCompile(`^[a-z0-9.\-/:]+/[a-z0-9.\-_/]+(:v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.\-]+)?|@sha256:[0-9a-f]{64})$`)

func checkImage(t *testing.T, owner string, c corev1.Container) {
	t.Helper()
	if strings.HasSuffix(c.Image, ":latest") || !tagged.MatchString(c.Image) {
		t.Errorf("%s container %s: image %q, want a registry path pinned to a release tag (:vX.Y.Z) or a digest", owner, c.Name, c.Image)
	}
	if c.ImagePullPolicy == corev1.PullAlways {
		t.Errorf("%s container %s pulls Always: a pinned tag needs no re-pull", owner, c.Name)
	}
}

// checkHardened: non-root, no privilege escalation, read-only root,
// no capability, the runtime's seccomp profile, and a memory limit.
func checkHardened(t *testing.T, pt podTemplate) {
	t.Helper()
	psc := pt.spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: the pod does not run as a non-root user: %+v", pt.owner, psc)
	}
	podSeccomp := psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	for _, c := range append(slices.Clone(pt.spec.InitContainers), pt.spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s container %s has no securityContext", pt.owner, c.Name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s container %s may escalate privileges", pt.owner, c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s container %s has a writable root filesystem", pt.owner, c.Name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s container %s: capabilities %+v, want drop ALL and add none", pt.owner, c.Name, sc.Capabilities)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s container %s is privileged", pt.owner, c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("%s container %s runs as root", pt.owner, c.Name)
		}
		if !podSeccomp && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
			t.Errorf("%s container %s has no RuntimeDefault seccomp profile", pt.owner, c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s container %s has no memory request and limit", pt.owner, c.Name)
		}
	}
	if pt.spec.HostNetwork || pt.spec.HostPID || pt.spec.HostIPC {
		t.Errorf("%s shares a host namespace", pt.owner)
	}
}

// secretish names the variables that hold credentials: they come from the
// Secret (secretKeyRef or envFrom), never as a value in the manifest.
var secretish = regexp.MustCompile(`TOKEN|SECRET|PASSWORD|KEY|DATABASE_URL`)

func checkNoInlineSecret(t *testing.T, owner string, c corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if secretish.MatchString(e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s container %s: %s is not read from a Secret", owner, c.Name, e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != secretName {
			t.Errorf("%s container %s: %s from Secret %s; the install creates %s only", owner, c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name, secretName)
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil && ef.SecretRef.Name != secretName {
			t.Errorf("%s container %s: environment from Secret %s; the install creates %s only", owner, c.Name, ef.SecretRef.Name, secretName)
		}
	}
}

// checkNetworkPolicy: the server's policy restricts both directions,
// opens the metrics port to the monitoring namespace alone, and every
// rule, in and out, names its ports, from the few the bot uses.
func checkNetworkPolicy(t *testing.T, b build) {
	t.Helper()
	np := one[networkingv1.NetworkPolicy](t, b, "NetworkPolicy", "chatops")
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy chatops restricts %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}
	for _, p := range all[networkingv1.NetworkPolicy](t, b, "NetworkPolicy") {
		for i, r := range p.Spec.Ingress {
			if len(r.Ports) == 0 {
				t.Errorf("NetworkPolicy %s ingress rule %d opens every port", p.Name, i)
			}
			if len(r.From) == 0 {
				t.Errorf("NetworkPolicy %s ingress rule %d is open to any source", p.Name, i)
			}
			for _, port := range r.Ports {
				if port.Port == nil || (port.Port.String() != "http" && port.Port.String() != "metrics") {
					t.Errorf("NetworkPolicy %s ingress rule %d opens port %v, want http or metrics", p.Name, i, port.Port)
				}
				if port.Port != nil && port.Port.String() == "metrics" {
					if len(r.From) != 1 || r.From[0].PodSelector != nil || r.From[0].NamespaceSelector == nil ||
						r.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
						t.Errorf("NetworkPolicy %s opens metrics to %+v, want the monitoring namespace alone", p.Name, r.From)
					}
				}
			}
		}
		for i, r := range p.Spec.Egress {
			if len(r.Ports) == 0 {
				t.Errorf("NetworkPolicy %s egress rule %d opens every port", p.Name, i)
			}
			for _, port := range r.Ports {
				if port.Port == nil || !slices.Contains([]int32{53, 443, 5432, 6443, 9093}, port.Port.IntVal) {
					t.Errorf("NetworkPolicy %s egress rule %d opens port %v, not one the bot uses", p.Name, i, port.Port)
				}
				if port.Port != nil && port.Port.IntVal == 53 && (len(r.To) != 1 || r.To[0].NamespaceSelector == nil ||
					r.To[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "kube-system") {
					t.Errorf("NetworkPolicy %s: DNS to %+v, want kube-system", p.Name, r.To)
				}
			}
		}
	}
}

// egressPorts is every port some NetworkPolicy selecting the server's
// pods lets them reach.
func egressPorts(t *testing.T, b build) map[int32]bool {
	ports := map[int32]bool{}
	for _, p := range all[networkingv1.NetworkPolicy](t, b, "NetworkPolicy") {
		if p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != "chatops" {
			continue
		}
		for _, r := range p.Spec.Egress {
			for _, port := range r.Ports {
				ports[port.Port.IntVal] = true
			}
		}
	}
	return ports
}

// serverEnv is the chatops container's environment as the bot would see
// it: plain values from the manifest, the Secret's keys from secrets.
func serverEnv(t *testing.T, c corev1.Container, secrets map[string]string) func(string) string {
	t.Helper()
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			for k, v := range secrets {
				env[k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v, ok := secrets[e.ValueFrom.SecretKeyRef.Key]
			if !ok && (e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
				t.Fatalf("container %s needs %s from the Secret", c.Name, e.ValueFrom.SecretKeyRef.Key)
			}
			env[e.Name] = v
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		}
	}
	return func(k string) string { return env[k] }
}

// loadAsServed writes the ConfigMap's file where the container mounts it
// and loads it with the container's environment, as serve would.
func loadAsServed(t *testing.T, b build, secrets map[string]string) (config.Config, corev1.Container) {
	t.Helper()
	d := one[appsv1.Deployment](t, b, "Deployment", "chatops")
	c := d.Spec.Template.Spec.Containers[0]
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) || !strings.HasSuffix(c.Args[i+1], "/"+configKey) {
		t.Fatalf("the chatops container's args %q name no --config .../%s", c.Args, configKey)
	}
	var cm *corev1.ConfigMap
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cm = one[corev1.ConfigMap](t, b, "ConfigMap", v.ConfigMap.Name)
		}
	}
	if cm == nil {
		t.Fatal("the Deployment mounts no ConfigMap")
	}
	path := filepath.Join(t.TempDir(), configKey)
	if err := os.WriteFile(path, []byte(cm.Data[configKey]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, serverEnv(t, c, secrets))
	if err != nil {
		t.Fatalf("the shipped configuration, as the pod loads it: %v", err)
	}
	return cfg, c
}

// secrets is a chatops-secrets Secret as the README's command makes it.
func secrets(extra ...string) map[string]string {
	s := map[string]string{
		config.EnvWebhookToken:    "webhook-token",
		config.EnvAPIToken:        "api-token",
		config.EnvAuditKey:        "0123456789abcdef0123456789abcdef",
		config.EnvSlackBotToken:   "xoxb-test",
		config.EnvSlackAppToken:   "xapp-test",
		config.EnvDiscordBotToken: "discord-test",
		config.EnvDiscordAppID:    "100000000000000009",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		s[extra[i]] = extra[i+1]
	}
	return s
}

// The base builds alone and holds everything but the storage.
func TestBase(t *testing.T) {
	b := kustomize(t, "base")
	checkCommon(t, b, "")
}

func TestSingle(t *testing.T) {
	b := kustomize(t, "overlays/single")
	checkCommon(t, b, namespace)
	d := one[appsv1.Deployment](t, b, "Deployment", "chatops")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1: two pods must never share the SQLite file", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate: a rolling update would run two pods on the SQLite file", d.Spec.Strategy.Type)
	}

	// SQLite, on the claim.
	cfg, c := loadAsServed(t, b, secrets())
	if cfg.UsesPostgres() {
		t.Fatal("the single overlay runs on PostgreSQL")
	}
	claims := map[string]string{} // volume name -> claim
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	onClaim := false
	for _, m := range c.VolumeMounts {
		if claims[m.Name] != "" && !m.ReadOnly && strings.HasPrefix(cfg.SQLitePath(), strings.TrimSuffix(m.MountPath, "/")+"/") {
			onClaim = true
			pvc := one[corev1.PersistentVolumeClaim](t, b, "PersistentVolumeClaim", claims[m.Name])
			if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
				t.Errorf("claim %s: access modes %v, want ReadWriteOnce", pvc.Name, pvc.Spec.AccessModes)
			}
		}
	}
	if !onClaim {
		t.Errorf("the SQLite file %s is on no mounted claim (mounts %+v)", cfg.SQLitePath(), c.VolumeMounts)
	}

	// A drain may evict the one pod: a budget that forbids it would block
	// node maintenance forever.
	pdb := one[policyv1.PodDisruptionBudget](t, b, "PodDisruptionBudget", "chatops")
	if pdb.Spec.MinAvailable != nil || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget: minAvailable %v maxUnavailable %v, want maxUnavailable 1 alone", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
	}
	if egressPorts(t, b)[5432] {
		t.Error("the SQLite overlay lets the bot reach PostgreSQL's port")
	}
}

func TestHA(t *testing.T) {
	b := kustomize(t, "overlays/ha")
	checkCommon(t, b, namespace)
	checkHA(t, b)
}

func checkHA(t *testing.T, b build) {
	t.Helper()
	d := one[appsv1.Deployment](t, b, "Deployment", "chatops")
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas = %v, want 2 or more", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy = %q, want RollingUpdate", d.Spec.Strategy.Type)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rollingUpdate %+v, want maxUnavailable 0: a rollout never drops below the replicas", ru)
	}
	spec := d.Spec.Template.Spec
	spread := false
	for _, c := range spec.TopologySpreadConstraints {
		if c.TopologyKey == "kubernetes.io/hostname" && c.MaxSkew == 1 && c.LabelSelector != nil &&
			c.LabelSelector.MatchLabels["app.kubernetes.io/name"] == "chatops" {
			spread = true
		}
	}
	if !spread {
		t.Errorf("no topology spread of the chatops pods across nodes: %+v", spec.TopologySpreadConstraints)
	}
	anti := false
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if w.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname" && w.PodAffinityTerm.LabelSelector != nil &&
				w.PodAffinityTerm.LabelSelector.MatchLabels["app.kubernetes.io/name"] == "chatops" {
				anti = true
			}
		}
		if len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 {
			t.Error("required pod anti-affinity: a cluster with fewer nodes than replicas would leave pods pending")
		}
	}
	if !anti {
		t.Errorf("no preferred pod anti-affinity by node: %+v", spec.Affinity)
	}

	pdb := one[policyv1.PodDisruptionBudget](t, b, "PodDisruptionBudget", "chatops")
	if pdb.Spec.MaxUnavailable != nil || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget: minAvailable %v maxUnavailable %v, want minAvailable 1 alone", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
	}

	// PostgreSQL, its URL from the Secret, required.
	cfg, c := loadAsServed(t, b, secrets(config.EnvDatabaseURL, "postgres://chatops_app@db:5432/chatops"))
	if !cfg.UsesPostgres() {
		t.Error("the ha overlay does not run on PostgreSQL")
	}
	required := false
	for _, e := range c.Env {
		if e.Name == config.EnvDatabaseURL && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
			(e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
			required = true
		}
	}
	if !required {
		t.Errorf("%s is not required from the Secret: a Secret without it would start replicas on SQLite files of their own", config.EnvDatabaseURL)
	}
	if !egressPorts(t, b)[5432] {
		t.Error("no NetworkPolicy lets the bot reach PostgreSQL (5432)")
	}
}

// The audit-verify component on the ha overlay: a daily CronJob that runs
// the server's image, one at a time, with the database URL and audit key
// from the Secret.
func TestHAWithAuditVerify(t *testing.T) {
	b := withAuditVerify(t, "overlays/ha")
	checkCommon(t, b, namespace)
	checkHA(t, b)

	cj := one[batchv1.CronJob](t, b, "CronJob", "chatops-audit-verify")
	d := one[appsv1.Deployment](t, b, "Deployment", "chatops")
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy = %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	if cj.Spec.SuccessfulJobsHistoryLimit == nil || cj.Spec.FailedJobsHistoryLimit == nil || *cj.Spec.FailedJobsHistoryLimit < 1 {
		t.Errorf("history limits %v/%v: want both set, and failed Jobs kept for KubeJobFailed", cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit)
	}
	job := cj.Spec.JobTemplate.Spec
	if job.BackoffLimit == nil || *job.BackoffLimit > 3 {
		t.Errorf("backoffLimit = %v, want a small one", job.BackoffLimit)
	}
	if job.TTLSecondsAfterFinished != nil {
		t.Error("ttlSecondsAfterFinished deletes a failed Job before KubeJobFailed fires")
	}
	pod := job.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != d.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("the check runs %s, the server %s", c.Image, d.Spec.Template.Spec.Containers[0].Image)
	}
	if len(c.Command) > 0 || len(c.Args) < 2 || c.Args[0] != "audit" || c.Args[1] != "verify" {
		t.Errorf("command %q args %q, want the image's entrypoint with audit verify", c.Command, c.Args)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy = %q", pod.RestartPolicy)
	}
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			fromSecret[e.Name] = true
		}
	}
	for _, name := range []string{config.EnvDatabaseURL, config.EnvAuditKey} {
		if !fromSecret[name] {
			t.Errorf("the check does not read %s from the Secret", name)
		}
	}
	// As audit verify loads it.
	cfg, err := config.LoadStore(writeMounted(t, b, pod, c), serverEnv(t, c, secrets(config.EnvDatabaseURL, "postgres://chatops_app@db:5432/chatops")))
	if err != nil {
		t.Fatalf("audit verify's configuration: %v", err)
	}
	if !cfg.UsesPostgres() || cfg.AuditKey == "" {
		t.Error("audit verify would not read PostgreSQL with the audit key")
	}

	np := one[networkingv1.NetworkPolicy](t, b, "NetworkPolicy", "chatops-audit-verify")
	if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != job.Template.Labels["app.kubernetes.io/name"] {
		t.Errorf("NetworkPolicy chatops-audit-verify selects %v, the Job's pods are %v", np.Spec.PodSelector.MatchLabels, job.Template.Labels)
	}
}

// writeMounted writes the file c's --config names, from the ConfigMap
// mounted there, and returns its path.
func writeMounted(t *testing.T, b build, pod corev1.PodSpec, c corev1.Container) string {
	t.Helper()
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %q name no --config", c.Args)
	}
	file := c.Args[i+1]
	for _, m := range c.VolumeMounts {
		if filepath.Dir(file) != m.MountPath {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm := one[corev1.ConfigMap](t, b, "ConfigMap", v.ConfigMap.Name)
				path := filepath.Join(t.TempDir(), filepath.Base(file))
				if err := os.WriteFile(path, []byte(cm.Data[filepath.Base(file)]), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			}
		}
	}
	t.Fatalf("%s is on no ConfigMap mount", file)
	return ""
}

// The in-tree configuration passes the binary's own validation, as
// `chatops config check` runs it.
func TestConfigFileValid(t *testing.T) {
	if _, err := config.Load(configFile, func(k string) string { return secrets()[k] }); err != nil {
		t.Fatalf("%s: %v", configFile, err)
	}
}
