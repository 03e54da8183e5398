/*
 * xenring_check: a Xen PV console *frontend* (guest side) over a page file.
 *
 * It carries its own copy of the layout of Xen's public/io/console.h (Xen
 * 4.21) so it checks vconsole's Python implementation against the ABI rather
 * than against itself.  It maps PAGE (MAP_SHARED), reports the connection
 * byte, writes into the out ring and reads from the in ring, following the
 * free-running index rules, until done or until the deadline.
 *
 * Usage:
 *   xenring_check PAGE [--expect-connection N] [--wait-connection N]
 *                      [--write STR | --write-hex HEX]
 *                      [--read-until STR | --read-until-hex HEX]
 *                      [--timeout-ms N]
 *
 * Output: one "key=value" line per fact, flushed as it happens, in order:
 *   layout=ok|bad sizeof=3092 in=0 out=1024 in_cons=3072 in_prod=3076
 *       out_cons=3080 out_prod=3084 connection=3088
 *   connection_initial=N
 *   connection_seen=N                  (with --wait-connection, once seen)
 *   wrote=N                            (with --write*, bytes put in "out")
 *   read_len=N read_hex=HEX            (with --read-until*, all bytes read)
 *   indices in_cons=.. in_prod=.. out_cons=.. out_prod=.. connection=..
 *   result=ok | result=error reason=WORD [detail...]
 * Exit status: 0 ok, 2 usage or layout, 3 connection mismatch, 4 timeout,
 *   5 corrupt ring, 6 cannot open or map PAGE.
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

#define PAGE_BYTES 4096

/* Acquire on the peer's index, release on our own: the C equivalent of the
 * barriers hvc_xen uses (mb/wmb), so data is never read before the index
 * that covers it, nor an index published before the data it covers. */
#define LOAD_PEER(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define PUBLISH(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static volatile struct xencons_interface *intf;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
    struct timespec ts = { 0, 500 * 1000 };
    nanosleep(&ts, NULL);
}

static void print_indices(void)
{
    printf("indices in_cons=%u in_prod=%u out_cons=%u out_prod=%u connection=%u\n",
           (unsigned)intf->in_cons, (unsigned)intf->in_prod,
           (unsigned)intf->out_cons, (unsigned)intf->out_prod,
           (unsigned)intf->connection);
}

static int finish(int status, const char *reason, const char *detail)
{
    print_indices();
    if (status == 0)
        printf("result=ok\n");
    else
        printf("result=error reason=%s%s%s\n", reason, detail ? " " : "", detail ? detail : "");
    fflush(stdout);
    return status;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode HEX into a new buffer; returns length or -1. */
static long unhex(const char *hex, unsigned char **out)
{
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    *out = malloc(n / 2 + 1);
    if (!*out)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        (*out)[i] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

static int check_layout(void)
{
    int ok = offsetof(struct xencons_interface, in) == 0 &&
             offsetof(struct xencons_interface, out) == 1024 &&
             offsetof(struct xencons_interface, in_cons) == 3072 &&
             offsetof(struct xencons_interface, in_prod) == 3076 &&
             offsetof(struct xencons_interface, out_cons) == 3080 &&
             offsetof(struct xencons_interface, out_prod) == 3084 &&
             offsetof(struct xencons_interface, connection) == 3088 &&
             sizeof(struct xencons_interface) == 3092;
    printf("layout=%s sizeof=%zu in=%zu out=%zu in_cons=%zu in_prod=%zu "
           "out_cons=%zu out_prod=%zu connection=%zu\n",
           ok ? "ok" : "bad", sizeof(struct xencons_interface),
           offsetof(struct xencons_interface, in),
           offsetof(struct xencons_interface, out),
           offsetof(struct xencons_interface, in_cons),
           offsetof(struct xencons_interface, in_prod),
           offsetof(struct xencons_interface, out_cons),
           offsetof(struct xencons_interface, out_prod),
           offsetof(struct xencons_interface, connection));
    return ok;
}

static char corrupt_detail[160];

/* Frontend write: put as much of data into "out" as fits.  Returns bytes
 * written, or -1 if the ring is corrupt. */
static long ring_write(const unsigned char *data, size_t len)
{
    XENCONS_RING_IDX cons = LOAD_PEER(&intf->out_cons);
    XENCONS_RING_IDX prod = intf->out_prod;  /* ours: no one else moves it */
    size_t sent = 0;

    if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->out)) {
        snprintf(corrupt_detail, sizeof corrupt_detail,
                 "ring=out out_cons=%u out_prod=%u", (unsigned)cons, (unsigned)prod);
        return -1;
    }
    while (sent < len && (XENCONS_RING_IDX)(prod - cons) < sizeof(intf->out))
        intf->out[MASK_XENCONS_IDX(prod++, intf->out)] = (char)data[sent++];
    PUBLISH(&intf->out_prod, prod);
    return (long)sent;
}

/* Frontend read: append everything pending in "in" to buf.  Returns bytes
 * read, or -1 if the ring is corrupt. */
static long ring_read(unsigned char **buf, size_t *len, size_t *cap)
{
    XENCONS_RING_IDX cons = intf->in_cons;  /* ours */
    XENCONS_RING_IDX prod = LOAD_PEER(&intf->in_prod);
    XENCONS_RING_IDX avail = prod - cons;

    if (avail > sizeof(intf->in)) {
        snprintf(corrupt_detail, sizeof corrupt_detail,
                 "ring=in in_cons=%u in_prod=%u", (unsigned)cons, (unsigned)prod);
        return -1;
    }
    if (*len + avail > *cap) {
        *cap = (*len + avail) * 2 + 64;
        *buf = realloc(*buf, *cap);
        if (!*buf) {
            perror("realloc");
            exit(6);
        }
    }
    for (XENCONS_RING_IDX i = 0; i < avail; i++)
        (*buf)[(*len)++] = (unsigned char)intf->in[MASK_XENCONS_IDX(cons++, intf->in)];
    PUBLISH(&intf->in_cons, cons);
    return (long)avail;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: xenring_check PAGE [--expect-connection N] [--wait-connection N]\n"
            "       [--write STR | --write-hex HEX] [--read-until STR | --read-until-hex HEX]\n"
            "       [--timeout-ms N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *page = NULL;
    int expect_conn = -1, wait_conn = -1;
    long long timeout_ms = 5000;
    unsigned char *wdata = NULL, *marker = NULL;
    long wlen = -1, mlen = -1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (page)
                return usage();
            page = a;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--expect-connection"))
            expect_conn = atoi(v);
        else if (!strcmp(a, "--wait-connection"))
            wait_conn = atoi(v);
        else if (!strcmp(a, "--timeout-ms"))
            timeout_ms = atoll(v);
        else if (!strcmp(a, "--write")) {
            wdata = (unsigned char *)strdup(v);
            wlen = (long)strlen(v);
        } else if (!strcmp(a, "--write-hex")) {
            if ((wlen = unhex(v, &wdata)) < 0)
                return usage();
        } else if (!strcmp(a, "--read-until")) {
            marker = (unsigned char *)strdup(v);
            mlen = (long)strlen(v);
        } else if (!strcmp(a, "--read-until-hex")) {
            if ((mlen = unhex(v, &marker)) < 0)
                return usage();
        } else
            return usage();
    }
    if (!page)
        return usage();
    if (!check_layout()) {
        printf("result=error reason=layout\n");
        return 2;
    }

    int fd = open(page, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < PAGE_BYTES) {
        printf("result=error reason=open errno=%d\n", errno);
        return 6;
    }
    void *map = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        printf("result=error reason=mmap errno=%d\n", errno);
        return 6;
    }
    close(fd);
    intf = map;
    long long deadline = now_ms() + timeout_ms;

    unsigned initial = __atomic_load_n(&intf->connection, __ATOMIC_ACQUIRE);
    printf("connection_initial=%u\n", initial);
    if (expect_conn >= 0 && (int)initial != expect_conn)
        return finish(3, "connection", "initial value differs from --expect-connection");

    if (wait_conn >= 0) {
        while (__atomic_load_n(&intf->connection, __ATOMIC_ACQUIRE) != wait_conn) {
            if (now_ms() > deadline)
                return finish(4, "timeout", "phase=wait-connection");
            nap();
        }
        printf("connection_seen=%d\n", wait_conn);
    }

    /* Write and read together, as a guest does: a backend may wait for our
     * output before giving input, or the other way round. */
    size_t wsent = 0, rlen = 0, rcap = 0;
    unsigned char *rbuf = NULL;
    int wdone = wlen < 0, rdone = mlen < 0;
    while (!wdone || !rdone) {
        long progress = 0;
        if (!wdone) {
            long n = ring_write(wdata + wsent, (size_t)wlen - wsent);
            if (n < 0)
                return finish(5, "corrupt", corrupt_detail);
            wsent += (size_t)n;
            progress += n;
            wdone = wsent == (size_t)wlen;
        }
        if (!rdone) {
            long n = ring_read(&rbuf, &rlen, &rcap);
            if (n < 0)
                return finish(5, "corrupt", corrupt_detail);
            progress += n;
            rdone = mlen == 0 || (rlen >= (size_t)mlen && memmem(rbuf, rlen, marker, (size_t)mlen));
        }
        if (!progress && (!wdone || !rdone)) {
            if (now_ms() > deadline)
                break;
            nap();
        }
    }
    if (wlen >= 0)
        printf("wrote=%zu\n", wsent);
    if (mlen >= 0) {
        printf("read_len=%zu read_hex=", rlen);
        for (size_t i = 0; i < rlen; i++)
            printf("%02x", rbuf[i]);
        printf("\n");
    }
    if (!wdone)
        return finish(4, "timeout", "phase=write");
    if (!rdone)
        return finish(4, "timeout", "phase=read-until");
    return finish(0, NULL, NULL);
}
