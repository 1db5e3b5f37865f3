package deploy

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKafkaLocalFetchesKafkasTools checks that deploy/kafka-local fetches
// org.apache.kafka:kafka-tools at the broker's version, so that Kafka's own
// console consumer runs on the documented classpath.
func TestKafkaLocalFetchesKafkasTools(t *testing.T) {
	var pom struct {
		Properties struct {
			KafkaVersion string `xml:"kafka.version"`
		} `xml:"properties"`
		Dependencies []struct {
			GroupID    string `xml:"groupId"`
			ArtifactID string `xml:"artifactId"`
			Version    string `xml:"version"`
		} `xml:"dependencies>dependency"`
	}
	b, err := os.ReadFile("kafka-local/pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &pom); err != nil {
		t.Fatalf("kafka-local/pom.xml: %v", err)
	}
	found := false
	for _, d := range pom.Dependencies {
		if d.GroupID == "org.apache.kafka" && d.ArtifactID == "kafka-tools" {
			found = true
			if d.Version != "${kafka.version}" {
				t.Errorf("kafka-tools at version %q, want ${kafka.version} (the broker's)", d.Version)
			}
		}
	}
	if !found {
		t.Fatal("kafka-local/pom.xml does not list org.apache.kafka:kafka-tools")
	}

	t.Run("a cache fetched without the tools is topped up", func(t *testing.T) {
		// A cache complete by the old rule (.complete, the broker's jars) and
		// a mvn that copies a kafka-tools jar where it is told.
		cache := t.TempDir()
		libs := filepath.Join(cache, "libs")
		if err := os.MkdirAll(libs, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{".complete", "libs/kafka_2.13-4.4.0.jar"} {
			if err := os.WriteFile(filepath.Join(cache, f), []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		bin := t.TempDir()
		mvn := `#!/bin/sh
for a in "$@"; do case $a in -DoutputDirectory=*) out=${a#-DoutputDirectory=};; esac; done
echo new > "$out/kafka-tools-4.4.0.jar"; echo new > "$out/kafka_2.13-4.4.0.jar"
`
		if err := os.WriteFile(filepath.Join(bin, "mvn"), []byte(mvn), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "kafka-local/start.sh", "--fetch-only")
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "COVACDC_KAFKA_CACHE="+cache, "COVACDC_KAFKA_VERSION=4.4.0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("start.sh --fetch-only: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(libs, "kafka-tools-4.4.0.jar")); err != nil {
			t.Errorf("kafka-tools not fetched into a cache that lacked it: %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(libs, "kafka_2.13-4.4.0.jar")); string(b) != "old" {
			t.Errorf("a jar already in the cache was replaced (%q): a broker running from it could fail", b)
		}
	})

	t.Run("the console consumer runs on the fetched jars", func(t *testing.T) {
		cache := os.Getenv("COVACDC_KAFKA_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "covacdc", "kafka-"+pom.Properties.KafkaVersion)
		}
		libs := filepath.Join(cache, "libs")
		if _, err := os.Stat(filepath.Join(libs, "kafka-tools-"+pom.Properties.KafkaVersion+".jar")); err != nil {
			t.Skipf("Kafka's tools not fetched into %s yet (deploy/kafka-local/start.sh --fetch-only fetches them)", libs)
		}
		if _, err := exec.LookPath("java"); err != nil {
			t.Skip("no java")
		}
		out, err := exec.Command("java", "-cp", libs+"/*", "org.apache.kafka.tools.consumer.ConsoleConsumer", "--version").CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || !strings.HasSuffix(got, pom.Properties.KafkaVersion) {
			t.Errorf("ConsoleConsumer --version: %v\n%s\nwant %s", err, out, pom.Properties.KafkaVersion)
		}
	})
}
