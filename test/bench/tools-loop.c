// The program the tool comparison (tools.mjs) fails: times N library calls of one kind and writes
// the mean ns per call into fd 3 (a file the caller opened and sized), through mmap, so a failing
// write() or open() cannot lose the result.
//   tools-loop open <n>      open("/dev/zero") (+ close when it succeeded; not /dev/null, which
//                            the parent's spawn opens in the child before exec)
//   tools-loop read <n>      read() of 1 byte from /dev/zero
//   tools-loop write <n>     write() of 1 byte to /dev/null
//   tools-loop connect <n>   connect() of a UDP socket to 127.0.0.1:9
//   tools-loop mix <n>       stat("/dev/null") + read() of 1 byte, n times (the whole-program case)
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "read";
	long n = argc > 2 ? atol(argv[2]) : 10000;
	char *out = mmap(NULL, 64, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (out == MAP_FAILED)
		return 2;
	int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_WRONLY);
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	char c;
	struct stat st;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!strcmp(op, "open")) {
		for (long i = 0; i < n; i++) {
			int fd = open("/dev/zero", O_RDONLY);
			if (fd >= 0)
				close(fd);
		}
	} else if (!strcmp(op, "read")) {
		for (long i = 0; i < n; i++)
			read(zero, &c, 1);
	} else if (!strcmp(op, "write")) {
		for (long i = 0; i < n; i++)
			write(null, "x", 1);
	} else if (!strcmp(op, "connect")) {
		for (long i = 0; i < n; i++)
			connect(sock, (struct sockaddr *)&a, sizeof a);
	} else {
		for (long i = 0; i < n; i++) {
			stat("/dev/null", &st);
			read(zero, &c, 1);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(out, 64, "%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
	return 0;
}
