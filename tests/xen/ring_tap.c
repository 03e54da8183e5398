/*
 * ring_tap: a second, independent party on a *live* lab domU console page.
 *
 * It carries its own copy of struct xencons_interface from Xen's
 * public/io/console.h (Xen 4.21), checks the offsets and the connection
 * byte, then, while the broker is the backend of the same ring:
 *
 *   - writes INPUT into the "in" ring, as a backend does (producer of in);
 *   - reads what the guest answers from the "out" ring WITHOUT consuming it:
 *     it never writes out_cons, it follows out_prod from where it started and
 *     copies the slots behind it.  The broker stays the only consumer of
 *     "out", so it still receives every byte; a slot is only reused by the
 *     guest after the broker consumed it AND the guest wrote a full ring
 *     (2048 bytes) more, so a tap that keeps within 2048 bytes of out_prod
 *     reads exactly the guest's bytes.  It re-reads out_prod after copying
 *     and reports "overrun" if the guest may have lapped it (never silent).
 *
 * Two producers on "in" (this tap and the broker) would race if both wrote
 * at once; the test sends no input through the broker meanwhile, so the
 * broker's in_prod view is simply refreshed from the page on its next write
 * (it keeps no private copy of the indices).
 *
 * Usage: ring_tap PAGE --expect-connection N --input-hex HEX
 *                      --until-hex HEX [--timeout-ms N]
 * Output, one fact per line: layout=ok ..., connection=N, wrote=N,
 *   tap_hex=HEX, result=ok | result=error reason=WORD
 * Exit: 0 ok, 2 usage/layout, 3 connection, 4 timeout, 5 corrupt,
 *   6 open/mmap, 7 overrun.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- layout copied from xen/include/public/io/console.h (Xen 4.21) ---- */
typedef uint32_t XENCONS_RING_IDX;

#define MASK_XENCONS_IDX(idx, ring) ((idx) & (sizeof(ring)-1))

struct xencons_interface {
    char in[1024];
    char out[2048];
    XENCONS_RING_IDX in_cons, in_prod;
    XENCONS_RING_IDX out_cons, out_prod;
#define XENCONSOLE_DISCONNECTED 1
#define XENCONSOLE_CONNECTED    0
    uint8_t connection;
};
/* ---- end of the header's layout ---- */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define PUBLISH(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
    struct timespec ts = { 0, 1000 * 1000 };
    nanosleep(&ts, NULL);
}

static long unhex(const char *hex, unsigned char **out)
{
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    *out = malloc(n / 2 + 1);
    if (!*out)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        (*out)[i] = (unsigned char)v;
    }
    return (long)(n / 2);
}

int main(int argc, char **argv)
{
    const char *page = NULL;
    int expect = -1;
    long long timeout_ms = 10000;
    unsigned char *input = NULL, *until = NULL;
    long ilen = -1, ulen = -1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            page = argv[i];
            continue;
        }
        if (i + 1 >= argc)
            return 2;
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--expect-connection"))
            expect = atoi(v);
        else if (!strcmp(argv[i - 1], "--input-hex"))
            ilen = unhex(v, &input);
        else if (!strcmp(argv[i - 1], "--until-hex"))
            ulen = unhex(v, &until);
        else if (!strcmp(argv[i - 1], "--timeout-ms"))
            timeout_ms = atoll(v);
        else
            return 2;
    }
    if (!page || ilen < 0 || ulen <= 0) {
        fprintf(stderr, "usage: ring_tap PAGE --expect-connection N --input-hex HEX --until-hex HEX\n");
        return 2;
    }

    int ok = offsetof(struct xencons_interface, in) == 0 &&
             offsetof(struct xencons_interface, out) == 1024 &&
             offsetof(struct xencons_interface, in_cons) == 3072 &&
             offsetof(struct xencons_interface, in_prod) == 3076 &&
             offsetof(struct xencons_interface, out_cons) == 3080 &&
             offsetof(struct xencons_interface, out_prod) == 3084 &&
             offsetof(struct xencons_interface, connection) == 3088 &&
             sizeof(struct xencons_interface) == 3092;
    printf("layout=%s connection_offset=%zu sizeof=%zu\n", ok ? "ok" : "bad",
           offsetof(struct xencons_interface, connection), sizeof(struct xencons_interface));
    if (!ok)
        return 2;

    int fd = open(page, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != 4096) {
        printf("result=error reason=open errno=%d\n", errno);
        return 6;
    }
    volatile struct xencons_interface *intf =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if ((void *)intf == MAP_FAILED) {
        printf("result=error reason=mmap errno=%d\n", errno);
        return 6;
    }

    unsigned conn = LOAD(&intf->connection);
    printf("connection=%u\n", conn);
    if (expect >= 0 && (int)conn != expect) {
        printf("result=error reason=connection\n");
        return 3;
    }

    /* Start the tap where the guest is now: only what it answers from here on. */
    XENCONS_RING_IDX pos = LOAD(&intf->out_prod);
    size_t tlen = 0, tcap = 4096;
    unsigned char *tap = malloc(tcap);
    long sent = 0;
    long long deadline = now_ms() + timeout_ms;

    for (;;) {
        /* Produce input into "in" as far as there is space. */
        if (sent < ilen) {
            XENCONS_RING_IDX cons = LOAD(&intf->in_cons);
            XENCONS_RING_IDX prod = intf->in_prod;
            if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->in)) {
                printf("result=error reason=corrupt ring=in\n");
                return 5;
            }
            while (sent < ilen && (XENCONS_RING_IDX)(prod - cons) < sizeof(intf->in))
                intf->in[MASK_XENCONS_IDX(prod++, intf->in)] = (char)input[sent++];
            PUBLISH(&intf->in_prod, prod);
            if (sent == ilen)
                printf("wrote=%ld\n", sent);
        }
        /* Tap "out" without consuming it. */
        XENCONS_RING_IDX prod = LOAD(&intf->out_prod);
        XENCONS_RING_IDX avail = prod - pos;
        if (avail > sizeof(intf->out)) {
            printf("result=error reason=overrun behind=%u\n", (unsigned)avail);
            return 7;
        }
        if (tlen + avail > tcap) {
            tcap = (tlen + avail) * 2;
            tap = realloc(tap, tcap);
        }
        for (XENCONS_RING_IDX i = 0; i < avail; i++)
            tap[tlen + i] = (unsigned char)intf->out[MASK_XENCONS_IDX(pos + i, intf->out)];
        /* The copy is valid only if the guest did not lap us meanwhile. */
        XENCONS_RING_IDX after = LOAD(&intf->out_prod);
        if ((XENCONS_RING_IDX)(after - pos) > sizeof(intf->out)) {
            printf("result=error reason=overrun behind=%u\n", (unsigned)(after - pos));
            return 7;
        }
        tlen += avail;
        pos += avail;
        if (sent == ilen && tlen >= (size_t)ulen && memmem(tap, tlen, until, (size_t)ulen))
            break;
        if (now_ms() > deadline) {
            printf("tap_len=%zu\nresult=error reason=timeout\n", tlen);
            return 4;
        }
        nap();
    }
    printf("tap_len=%zu tap_hex=", tlen);
    for (size_t i = 0; i < tlen; i++)
        printf("%02x", tap[i]);
    printf("\nconnection_end=%u\nresult=ok\n", (unsigned)LOAD(&intf->connection));
    return 0;
}
