// step_helper: a stand-in for a runbook step's program, whose behaviour is set by flags, for the
// process runner's tests. Plain POSIX calls only (no stdio buffering, no libraries), so that
// what it writes is on the pipe before it sleeps, forks or exits.
//
// Flags (any order; actions run in the order listed here, output flags in the order given):
//   --ignore-term         SIGTERM ignored (inherited by --grandchild's child)
//   --pid-file F          write a pid to F (atomically): the --grandchild / --daemonize
//                         process's pid when one of those is given, else our own
//   --print TEXT          TEXT and a newline to stdout
//   --stderr TEXT         TEXT and a newline to stderr
//   --env NAME            "NAME=value" or "NAME unset" and a newline to stdout
//   --cwd                 the working directory and a newline to stdout
//   --spam BYTES          that many 'x' bytes to stdout
//   --grandchild          fork a child that stays in our process group and sleeps 60 s
//   --daemonize           fork a child that calls setsid() and sleeps 60 s, with stdio on
//                         /dev/null unless --keep-output; we go on only after its setsid()
//   --keep-output         the --daemonize child keeps our stdout/stderr (the pipe) open
//   --close-and-sleep     close stdout and stderr before sleeping
//   --sleep-ms N          sleep N ms (resumed after signals that are caught or ignored)
//   --raise SIG           raise signal number SIG (after sleeping)
//   --exit N              exit status (default 0)
//   --args A B ...        every remaining argument printed as "<A>" on its own line, verbatim
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void put(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EPIPE and friends: the reader is gone
    off += static_cast<std::size_t>(n);
  }
}

[[noreturn]] void usage(const std::string& why) {
  put(2, "step_helper: " + why + "\n");
  std::_Exit(100);
}

long number(const char* s) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') usage(std::string("not a number: ") + s);
  return v;
}

void sleep_ms(long ms) {
  struct timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void write_pid_file(const std::string& path, pid_t pid) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) usage("cannot write " + tmp);
  put(fd, std::to_string(pid) + "\n");
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) usage("cannot rename to " + path);
}

struct output_action {
  enum { print, err, env, cwd } what;
  std::string arg;
};

}  // namespace

int main(int argc, char** argv) {
  bool ignore_term = false, grandchild = false, daemonize = false, keep_output = false,
       close_and_sleep = false;
  long exit_code = 0, sleep_for = 0, spam = 0, raise_sig = 0;
  std::string pid_file;
  std::vector<output_action> outputs;
  std::vector<std::string> echo_args;

  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--exit") exit_code = number(value());
    else if (a == "--sleep-ms") sleep_for = number(value());
    else if (a == "--ignore-term") ignore_term = true;
    else if (a == "--grandchild") grandchild = true;
    else if (a == "--daemonize") daemonize = true;
    else if (a == "--keep-output") keep_output = true;
    else if (a == "--close-and-sleep") close_and_sleep = true;
    else if (a == "--pid-file") pid_file = value();
    else if (a == "--print") outputs.push_back({output_action::print, value()});
    else if (a == "--stderr") outputs.push_back({output_action::err, value()});
    else if (a == "--env") outputs.push_back({output_action::env, value()});
    else if (a == "--cwd") outputs.push_back({output_action::cwd, {}});
    else if (a == "--spam") spam = number(value());
    else if (a == "--raise") raise_sig = number(value());
    else if (a == "--args") {
      for (++i; i < argc; ++i) echo_args.emplace_back(argv[i]);
    } else {
      usage("unknown flag " + a);
    }
  }

  if (ignore_term) ::signal(SIGTERM, SIG_IGN);
  if (!pid_file.empty() && !grandchild && !daemonize) write_pid_file(pid_file, ::getpid());

  for (const auto& o : outputs) {
    switch (o.what) {
      case output_action::print: put(1, o.arg + "\n"); break;
      case output_action::err: put(2, o.arg + "\n"); break;
      case output_action::env: {
        const char* v = std::getenv(o.arg.c_str());
        put(1, v ? o.arg + "=" + v + "\n" : o.arg + " unset\n");
        break;
      }
      case output_action::cwd: {
        char buf[PATH_MAX];
        put(1, ::getcwd(buf, sizeof buf) ? std::string(buf) + "\n" : "getcwd failed\n");
        break;
      }
    }
  }
  for (const auto& a : echo_args) put(1, "<" + a + ">\n");

  if (spam > 0) {
    const std::string chunk(64 * 1024, 'x');
    long left = spam;
    while (left > 0) {
      const std::size_t n = static_cast<std::size_t>(std::min<long>(left, static_cast<long>(chunk.size())));
      const ssize_t w = ::write(1, chunk.data(), n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return 101;
      left -= w;
    }
  }

  if (grandchild) {
    const pid_t pid = ::fork();
    if (pid < 0) usage("fork failed");
    if (pid == 0) {
      // Same process group, inherits the SIGTERM disposition and the output pipe.
      sleep_ms(60000);
      std::_Exit(0);
    }
    if (!pid_file.empty()) write_pid_file(pid_file, pid);
  }

  if (daemonize) {
    int sync[2];
    if (::pipe(sync) != 0) usage("pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) usage("fork failed");
    if (pid == 0) {
      ::close(sync[0]);
      ::setsid();  // own session and process group: it has left the step's group
      ::signal(SIGTERM, SIG_DFL);
      if (!keep_output) {
        const int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        if (null > 2) ::close(null);
      }
      ::close(sync[1]);  // tells the parent that setsid() is done
      sleep_ms(60000);
      std::_Exit(0);
    }
    ::close(sync[1]);
    char c;
    while (::read(sync[0], &c, 1) < 0 && errno == EINTR) {
    }
    ::close(sync[0]);
    if (!pid_file.empty()) write_pid_file(pid_file, pid);
  }

  if (close_and_sleep) {
    ::close(1);
    ::close(2);
  }
  if (sleep_for > 0) sleep_ms(sleep_for);
  if (raise_sig > 0) {
    ::signal(static_cast<int>(raise_sig), SIG_DFL);
    ::raise(static_cast<int>(raise_sig));
  }
  return static_cast<int>(exit_code);
}
