// Times N UDP round trips on loopback, one process playing client and server, and prints the
// mean ns per round trip. As "dns" the client sends a standard A query for <name> to <addr>:53
// and the server answers it (the header's QR bit set); as "udp" the same bytes go to port
// 5399, which the DNS code of the TC programs never parses.
// usage: dns-rtt <dns|udp> <addr> <name> <n>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	int port = strcmp(argv[1], "dns") == 0 ? 53 : 5399, n = atoi(argv[4]);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, argv[2], &a.sin_addr);
	int srv = socket(AF_INET, SOCK_DGRAM, 0), cli = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(srv, (struct sockaddr *)&a, sizeof a)) {
		perror("bind");
		return 1;
	}
	unsigned char q[300] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }, buf[512];
	size_t len = 12;
	for (char *l = strtok(argv[3], "."); l; l = strtok(NULL, ".")) {
		q[len++] = (unsigned char)strlen(l);
		memcpy(q + len, l, strlen(l));
		len += strlen(l);
	}
	memcpy(q + len, "\0\0\1\0\1", 5);
	len += 5;
	struct sockaddr_in from;
	socklen_t fl;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		sendto(cli, q, len, 0, (struct sockaddr *)&a, sizeof a);
		fl = sizeof from;
		ssize_t r = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		buf[2] |= 0x80;
		sendto(srv, buf, r, 0, (struct sockaddr *)&from, fl);
		recv(cli, buf, sizeof buf, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
	return 0;
}
