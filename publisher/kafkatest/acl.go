package kafkatest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Environment variables of an ACL-enforcing cluster (deploy/kafka-local/start.sh with
// COVACDC_KAFKA_ACL=1 starts one). Users are "user:password" and log in with SASL PLAIN.
const (
	ACLBrokersEnv = "KAFKA_ACL_BROKERS" // seed brokers of a SASL PLAIN listener with an authorizer
	ACLAdminEnv   = "KAFKA_ACL_ADMIN"   // a super user, who creates topics and grants ACLs
	ACLUserEnv    = "KAFKA_ACL_USER"    // an ordinary user, who has only what is granted
)

// User is a SASL PLAIN login.
type User struct{ Name, Password string }

// Principal is the user's principal in ACLs, "User:<name>".
func (u User) Principal() string { return "User:" + u.Name }

// ACLCluster is a cluster that authenticates clients and enforces ACLs, with a super
// user (Admin) and a user who holds only the ACLs a test grants (User).
type ACLCluster struct {
	Kind    Kind
	Brokers []string
	Admin   User
	User    User
}

// Opts returns the client options that reach the cluster as u.
func (c *ACLCluster) Opts(u User) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.SASL(plain.Auth{User: u.Name, Pass: u.Password}.AsMechanism())}
}

// ACL returns the ACL-enforcing cluster named by KAFKA_ACL_BROKERS, KAFKA_ACL_ADMIN and
// KAFKA_ACL_USER, and skips the test, saying how to get one, when they are unset.
func ACL(t testing.TB) *ACLCluster {
	t.Helper()
	brokers := strings.TrimSpace(os.Getenv(ACLBrokersEnv))
	if brokers == "" {
		t.Skipf("needs an Apache Kafka that enforces ACLs: set %s, %s (user:password of a super user) and %s "+
			"(user:password of an ordinary user); COVACDC_KAFKA_ACL=1 deploy/kafka-local/start.sh starts one "+
			"(super user admin:admin-secret, user covacdc:covacdc-secret)", ACLBrokersEnv, ACLAdminEnv, ACLUserEnv)
	}
	admin, ok1 := parseUser(os.Getenv(ACLAdminEnv))
	user, ok2 := parseUser(os.Getenv(ACLUserEnv))
	if !ok1 || !ok2 {
		t.Fatalf("%s is set: %s and %s must be user:password", ACLBrokersEnv, ACLAdminEnv, ACLUserEnv)
	}
	c := &ACLCluster{Kind: External, Brokers: splitBrokers(brokers), Admin: admin, User: user}
	t.Logf("kafka: ACL-enforcing cluster %s (%s), super user %s, user %s", brokers, ACLBrokersEnv, admin.Name, user.Name)
	return c
}

func parseUser(s string) (User, bool) {
	name, pass, ok := strings.Cut(strings.TrimSpace(s), ":")
	return User{Name: name, Password: pass}, ok && name != "" && pass != ""
}

// FakeACL returns an in-process kfake cluster that authenticates with SASL PLAIN and
// enforces ACLs, with the users ACL's defaults name (admin, a super user, and covacdc,
// with no ACL). It is closed when the test ends.
func FakeACL(t testing.TB) *ACLCluster {
	t.Helper()
	c := &ACLCluster{Kind: Fake, Admin: User{"admin", "admin-secret"}, User: User{"covacdc", "covacdc-secret"}}
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(3),
		kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", c.Admin.Name, c.Admin.Password),
		kfake.User("PLAIN", c.User.Name, c.User.Password))
	if err != nil {
		t.Fatalf("kafka: starting kfake with ACLs: %v", err)
	}
	t.Cleanup(fake.Close)
	c.Brokers = fake.ListenAddrs()
	t.Logf("kafka: in-process kfake with ACLs at %s", strings.Join(c.Brokers, ","))
	return c
}

// Grant is one set of ACLs: operations allowed to the user on literal resources.
type Grant struct {
	Topics           []string
	TransactionalIDs []string
	Groups           []string
	Cluster          bool
	Ops              []kadm.ACLOperation
}

// LeastPrivilege is what covacdc needs to run, tail and read its state, and
// nothing more (README: Security): WRITE on its transactional id; READ and
// WRITE on the events topic; WRITE on the dead-letter topic; READ, WRITE and
// DESCRIBE_CONFIGS on the state topic. DESCRIBE, which covacdc also uses, is
// implied by READ and WRITE. Nothing on the cluster, no group.
func LeastPrivilege(txnID, events, dlq, state string) []Grant {
	return []Grant{
		{TransactionalIDs: []string{txnID}, Ops: []kadm.ACLOperation{kadm.OpWrite}},
		{Topics: []string{events}, Ops: []kadm.ACLOperation{kadm.OpRead, kadm.OpWrite}},
		{Topics: []string{dlq}, Ops: []kadm.ACLOperation{kadm.OpWrite}},
		{Topics: []string{state}, Ops: []kadm.ACLOperation{kadm.OpRead, kadm.OpWrite, kadm.OpDescribeConfigs}},
	}
}

// ResyncPrivilege is what covacdc needs beyond LeastPrivilege for resyncs
// (README: Security): READ and WRITE on the signal topic (run reads the
// requests, resync writes them) and READ on the group the running covacdc
// joins to read them, signalGroup (resync describes it, and joins it when it
// does the work itself).
func ResyncPrivilege(signals, signalGroup string) []Grant {
	return []Grant{
		{Topics: []string{signals}, Ops: []kadm.ACLOperation{kadm.OpRead, kadm.OpWrite}},
		{Groups: []string{signalGroup}, Ops: []kadm.ACLOperation{kadm.OpRead}},
	}
}

// admin returns an admin client of the super user, closed when the test ends.
func (c *ACLCluster) admin(t testing.TB) *kadm.Client {
	t.Helper()
	adm, err := kadm.NewOptClient(c.Opts(c.Admin)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	return adm
}

// Grant allows the user what gs say, as the super user, and fails the test on any error.
func (c *ACLCluster) Grant(t testing.TB, gs ...Grant) {
	t.Helper()
	adm := c.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, g := range gs {
		b := kadm.NewACLs().Allow(c.User.Principal()).AllowHosts("*").
			ResourcePatternType(kadm.ACLPatternLiteral).Operations(g.Ops...).
			MaybeTopics(g.Topics...).MaybeTransactionalIDs(g.TransactionalIDs...).MaybeGroups(g.Groups...).MaybeClusters(g.Cluster)
		res, err := adm.CreateACLs(ctx, b)
		for _, r := range res {
			if err == nil {
				err = r.Err
			}
		}
		if err != nil {
			t.Fatalf("granting %+v to %s: %v", g, c.User.Name, err)
		}
	}
}

// CreateTopic creates a topic as the super user, with configs (nil: the broker's
// defaults), and fails the test on any error.
func (c *ACLCluster) CreateTopic(t testing.TB, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := c.admin(t).CreateTopic(ctx, partitions, -1, configs, topic); err != nil || resp.Err != nil {
		t.Fatalf("creating topic %s as %s: %v %v", topic, c.Admin.Name, err, resp.Err)
	}
}
