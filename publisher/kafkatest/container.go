package kafkatest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
)

// ContainerImage is the image the Kafka module starts when COVACDC_KAFKA_IMAGE is unset.
// The module's start script is written for Confluent's confluent-local images.
const ContainerImage = "confluentinc/confluent-local:7.9.0"

// dockerProbeTimeout bounds the one-time check for a Docker engine.
const dockerProbeTimeout = 3 * time.Second

// containerProbeTimeout bounds the wait for a started container's broker to
// answer.
const containerProbeTimeout = 60 * time.Second

var container struct {
	once    sync.Once
	brokers []string
	why     string // where the brokers come from, or why there are none ("" = no Docker)
}

// sharedContainer starts one Kafka container per test binary, the first time a test asks.
// It returns nil brokers and a reason when Docker is not there or the container failed;
// the reason is "" when simply no Docker engine answered (the common case, not worth a
// line in every test).
func sharedContainer() ([]string, string) {
	container.once.Do(func() {
		if err := dockerHealthy(); err != nil {
			return
		}
		img := os.Getenv(ImageEnv)
		if img == "" {
			img = ContainerImage
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// Match kfake and deploy/kafka-local: three partitions, no topic made behind a test's back.
		kc, err := tckafka.Run(ctx, img, testcontainers.WithEnv(map[string]string{
			"KAFKA_NUM_PARTITIONS":            "3",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
		}))
		if err != nil {
			container.why = fmt.Sprintf("docker is there but %s did not start: %v; using kfake", img, err)
			return
		}
		// The container is left to testcontainers' reaper, which removes it when the test
		// binary exits: tests in one binary share it.
		brokers, err := kc.Brokers(ctx)
		if err != nil {
			container.why = fmt.Sprintf("kafka container brokers: %v; using kfake", err)
			return
		}
		// The module returns once the broker logs that it started; its listener
		// may accept connections only later.
		if err := probe(ctx, brokers, containerProbeTimeout); err != nil {
			container.why = fmt.Sprintf("%s started but %v; using kfake", img, err)
			return
		}
		container.brokers = brokers
		container.why = img + ", shared by this test binary"
	})
	return container.brokers, container.why
}

// dockerHealthy asks testcontainers whether a Docker engine answers. testcontainers panics
// when it finds no Docker host at all, and its client calls take no deadline, so the check
// runs in a goroutine bounded by dockerProbeTimeout.
func dockerHealthy() error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("no docker host: %v", r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), dockerProbeTimeout)
		defer cancel()
		p, err := testcontainers.ProviderDocker.GetProvider()
		if err != nil {
			done <- err
			return
		}
		defer p.Close()
		done <- p.Health(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(dockerProbeTimeout + time.Second):
		return fmt.Errorf("docker did not answer within %v", dockerProbeTimeout)
	}
}
