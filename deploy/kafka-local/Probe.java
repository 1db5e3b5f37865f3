// Probe waits until a Kafka broker answers Admin requests: describeCluster must list a broker
// and name a controller. Run as a source-file program on the broker's classpath:
//   java -cp 'libs/*' Probe.java BOOTSTRAP TIMEOUT_SECONDS [PID [CLIENT_PROPERTIES]]
// It exits 0 when ready, 1 at the deadline or as soon as PID (the broker) has exited.
// CLIENT_PROPERTIES is a file of client settings (SASL) read before the probe's own.
import java.io.FileReader;
import java.io.Reader;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;

public class Probe {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[1]));
        Long pid = args.length > 2 ? Long.valueOf(args[2]) : null;
        Properties p = new Properties();
        if (args.length > 3) {
            try (Reader r = new FileReader(args[3])) {
                p.load(r);
            }
        }
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        String last = "no answer yet";
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                if (pid != null && !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    System.err.println("kafka-local: broker process " + pid + " exited during startup");
                    System.exit(1);
                }
                try {
                    DescribeClusterResult r = admin.describeCluster(new DescribeClusterOptions().timeoutMs(3000));
                    int nodes = r.nodes().get(4, TimeUnit.SECONDS).size();
                    var controller = r.controller().get(4, TimeUnit.SECONDS);
                    if (nodes > 0 && controller != null && !controller.isEmpty()) {
                        System.exit(0);
                    }
                    last = "brokers " + nodes + ", no controller yet";
                } catch (Exception e) {
                    last = e.getClass().getSimpleName() + ": " + e.getMessage();
                }
                Thread.sleep(250);
            }
        }
        System.err.println("kafka-local: " + bootstrap + " not ready: " + last);
        System.exit(1);
    }
}
