// A C component: connects to 127.0.0.1:<port>, retries up to 3 times on ECONNREFUSED, and exits
// 0 when connected, 3 when the server stayed unreachable (printing why on stderr).
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	for (int attempt = 1; attempt <= 3; attempt++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
			printf("connected after %d attempt(s)\n", attempt);
			return 0;
		}
		fprintf(stderr, "attempt %d: %s\n", attempt, strerror(errno));
		close(s);
		if (errno != ECONNREFUSED)
			break;
		usleep(10000);
	}
	fprintf(stderr, "giving up: server unreachable\n");
	return 3;
}
