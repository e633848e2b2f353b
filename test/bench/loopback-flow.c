// Loopback flows for the network benchmark, untargeted by faultline (it is started outside any
// armed tree). Both ends live in this process's two halves (fork), over 127.0.0.1.
//   loopback-flow tput <megabytes>   TCP: prints MB/s from the first byte to the last
//   loopback-flow rtt <count>        TCP 1-byte request/response: prints the median round trip in us
//   loopback-flow req64k <count>     TCP 1-byte request, 64 KB response: prints the median in us
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	int tput = strcmp(argv[1], "tput") == 0;
	long resp = strcmp(argv[1], "req64k") == 0 ? 1 << 16 : 1;
	int srv = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (bind(srv, (struct sockaddr *)&a, sizeof(a)) || listen(srv, 1) || getsockname(srv, (struct sockaddr *)&a, &len))
		return perror("listen"), 1;
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c, (struct sockaddr *)&a, sizeof(a)))
			return perror("connect"), 1;
		static char buf[1 << 16];
		if (tput) {
			for (long left = n << 20; left > 0;) {
				ssize_t w = write(c, buf, left < (long)sizeof(buf) ? left : (long)sizeof(buf));
				if (w <= 0)
					return 1;
				left -= w;
			}
		} else {
			for (long i = 0; i < n; i++) {
				if (read(c, buf, 1) != 1)
					return 1;
				for (long left = resp; left > 0;) {
					ssize_t w = write(c, buf, left);
					if (w <= 0)
						return 1;
					left -= w;
				}
			}
		}
		close(c);
		return 0;
	}
	int s = accept(srv, NULL, NULL);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	static char buf[1 << 16];
	if (tput) {
		long got = 0;
		double t0 = 0;
		for (ssize_t r; (r = read(s, buf, sizeof(buf))) > 0;) {
			if (!got)
				t0 = now_us();
			got += r;
		}
		printf("%.1f\n", got / (now_us() - t0));  /* bytes/us = MB/s */
	} else {
		double *rtt = malloc(n * sizeof(double));
		for (long i = 0; i < n; i++) {
			double t0 = now_us();
			if (write(s, "x", 1) != 1)
				return 1;
			for (long got = 0; got < resp;) {
				ssize_t r = read(s, buf, sizeof(buf));
				if (r <= 0)
					return 1;
				got += r;
			}
			rtt[i] = now_us() - t0;
		}
		qsort(rtt, n, sizeof(double), cmp);
		printf("%.2f\n", rtt[n / 2]);
	}
	waitpid(pid, NULL, 0);
	return 0;
}
