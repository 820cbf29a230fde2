/* rundir.c: the run directory's lock and claim (rundir.h). */
#include "core/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/sha256.h"
#include "core/store.h"

#define PATH_CAP 4096

/* is_temporary: NAME.tmp or NAME.tmp.DIGITS (core/file.h's and core/store.h's atomic writes) */
static int is_temporary(const char *name) {
    const char *t = strstr(name, ".tmp");
    if (!t || t == name) return 0;
    while (strstr(t + 1, ".tmp")) t = strstr(t + 1, ".tmp");
    if (!t[4]) return 1;
    if (t[4] != '.' || !t[5]) return 0;
    for (const char *p = t + 5; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

/* sweep: remove the temporaries directly in dir, each said on info */
static void sweep(const char *dir, FILE *info) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char path[PATH_CAP];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        const int len = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (len < 0 || (size_t)len >= sizeof path) continue;
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (is_temporary(de->d_name) && unlink(path) == 0 && info)
            fprintf(info, "removed %s (the temporary of a write that never finished)\n", path);
    }
    closedir(d);
}

Status rundir_lock(RunLock *l, const char *dir, const char *prog, FILE *info, Err *e) {
    l->fd = -1;
    Status s = store_mkdirs(dir, e);
    if (s) return err_prefix(e, "run.dir");
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(e, ST_IO, "%s: cannot open the run directory's lock: %s", path,
                       strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        return err_set(e, ST_IO, "run.dir %s: expected a run directory no other process uses, "
                       "found it locked by %s", dir, holder[0] ? holder : "another process");
    }
    char me[256];
    int len = snprintf(me, sizeof me, "PID %ld (%s)\n", (long)getpid(), prog);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, me, (size_t)len, 0) != len) {
        close(fd);
        return err_set(e, ST_IO, "%s: cannot write the run directory's lock: %s", path,
                       strerror(errno));
    }
    l->fd = fd;
    /* the run's own folders only: others (drrl-eval's output folders, say) may hold another
       program's writes in progress */
    const char *sub[3] = {"", "/checkpoints", "/rollouts"};
    for (int i = 0; i < 3; i++) {
        char d[PATH_CAP];
        const int dl = snprintf(d, sizeof d, "%s%s", dir, sub[i]);
        if (dl > 0 && (size_t)dl < sizeof d) sweep(d, info);
    }
    return ST_OK;
}

void rundir_unlock(RunLock *l) {
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}

Status rundir_claim(const char *dir, const char *const *names, int n, int force,
                    const char *resume_hint, FILE *info, Err *e) {
    char found[1024] = "", path[PATH_CAP];
    int k = 0;
    struct stat sb;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (lstat(path, &sb) != 0) continue;
        size_t at = strlen(found);
        snprintf(found + at, sizeof found - at, "%s%s", k++ ? ", " : "", names[i]);
    }
    if (!k) return ST_OK;
    if (!force)
        return err_set(e, ST_INVALID, "run.dir %s: expected a directory without another run's "
                       "files, found %s (%s; or start over with --force, which moves them "
                       "into %s/replaced-DATE/)", dir, found, resume_hint, dir);
    char stamp[32], to[PATH_CAP];
    time_t now = time(NULL);
    struct tm tmv;
    if (!gmtime_r(&now, &tmv) || !strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv))
        snprintf(stamp, sizeof stamp, "%ld", (long)now);
    char bin[PATH_CAP];
    snprintf(bin, sizeof bin, "%s/replaced-%s", dir, stamp);
    Status s = store_mkdirs(bin, e);
    if (s) return s;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (lstat(path, &sb) != 0) continue;
        const int len = snprintf(to, sizeof to, "%s/%s", bin, names[i]);
        if (len < 0 || (size_t)len >= sizeof to)
            return err_set(e, ST_INVALID, "--force: %s/%s: path too long", bin, names[i]);
        if (rename(path, to) < 0)
            return err_set(e, ST_IO, "--force: cannot move %s to %s: %s", path, to,
                           strerror(errno));
    }
    if (info) fprintf(info, "--force: moved the earlier run's %s into %s/\n", found, bin);
    return ST_OK;
}

void rundir_new_id(char id[33]) {
    uint8_t b[32];
    if (getrandom(b, 16, 0) != 16) { /* no entropy source: a hash of what differs per run */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long v[4] = {(long long)ts.tv_sec, ts.tv_nsec, (long long)getpid(),
                          (long long)(uintptr_t)&ts};
        Sha256 h;
        sha256_init(&h);
        sha256_update(&h, v, sizeof v);
        sha256_final(&h, b);
    }
    for (int i = 0; i < 16; i++) snprintf(id + 2 * i, 3, "%02x", b[i]);
}
