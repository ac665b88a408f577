/* The producer's floor: what librdkafka alone costs per record on this machine, with Swallow's producer
 * settings (idempotent, acks=all, linger.ms=5, the same queue bounds) and records shaped like a snapshot
 * record (a ~20-byte key, a VALUE_BYTES-byte value), with nothing encoded and nothing read from Postgres.
 *
 *   produce-floor BOOTSTRAP RECORDS [VALUE_BYTES]
 *
 * Prints records/s and the CPU seconds this process used (librdkafka's threads included), one line:
 *   records=N seconds=S rate=R cpu_seconds=C
 * Exits non-zero if any record is not acknowledged. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static long acknowledged = 0;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk; (void)opaque;
    if (message->err) {
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(message->err));
        exit(1);
    }
    acknowledged++;
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, key, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s\n", key, error);
        exit(2);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BOOTSTRAP RECORDS [VALUE_BYTES]\n", argv[0]);
        return 2;
    }
    long records = atol(argv[2]);
    size_t value_bytes = argc > 3 ? (size_t)atol(argv[3]) : 600;
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    set(conf, "linger.ms", "5");
    set(conf, "queue.buffering.max.messages", "100000");
    set(conf, "queue.buffering.max.kbytes", "32768");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer) {
        fprintf(stderr, "rd_kafka_new: %s\n", error);
        return 2;
    }
    char *value = malloc(value_bytes);
    memset(value, 'x', value_bytes);
    char key[32];
    double start = now();
    for (long i = 0; i < records; i++) {
        int key_bytes = snprintf(key, sizeof key, "{\"id\":%ld}", i);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("produce-floor"), RD_KAFKA_V_KEY(key, (size_t)key_bytes),
                                        RD_KAFKA_V_VALUE(value, value_bytes), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(producer, 10);
        }
        if (err) {
            fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
            return 1;
        }
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 120000);
    double seconds = now() - start;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    rd_kafka_destroy(producer);
    free(value);
    if (acknowledged != records) {
        fprintf(stderr, "%ld of %ld records acknowledged\n", acknowledged, records);
        return 1;
    }
    printf("records=%ld seconds=%.3f rate=%.0f cpu_seconds=%.2f\n", records, seconds, records / seconds, cpu);
    return 0;
}
