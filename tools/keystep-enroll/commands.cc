#include "tools/keystep-enroll/commands.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "tools/cli/command.h"
#include "tools/keystep-enroll/admin_client.h"
#include "tools/keystep-enroll/batch.h"
#include "tools/keystep-enroll/csv.h"
#include "tools/keystep-enroll/enroll.h"
#include "tools/keystep-enroll/fido2_pin.h"
#include "tools/keystep-enroll/import.h"
#include "tools/keystep-enroll/journal.h"
#include "tools/keystep-enroll/security_key.h"

namespace keystep::enroll {
namespace {

using cli::Args;
using cli::FlagSpec;

// Prompts and progress on standard output; answers (and what a touched key types) from
// standard input.
class ConsoleOperator final : public Operator {
 public:
  void say(const std::string& line) override { std::cout << line << std::endl; }
  Result<std::string> ask(Ask, const std::string& prompt) override {
    std::cout << prompt << std::flush;
    std::string line;
    if (!std::getline(std::cin, line)) {
      std::cout << std::endl;
      return make_error(ErrorCode::kUnavailable, "the input ended");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
};

int fail(const Error& error) {
  std::cerr << "keystep-enroll: " << error.message << "\n";
  return error.code == ErrorCode::kInvalidArgument ? 2 : 1;
}

Error usage(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); }

// The API token: the first line of --token-file, else $KEYSTEP_TOKEN. Never a flag value,
// which other users could read in the process list.
Result<std::string> api_token(const Args& args) {
  std::string token;
  if (auto file = args.get("--token-file")) {
    auto text = read_text_file(*file);
    if (!text) return text.error();
    token = text->substr(0, text->find('\n'));
  } else if (const char* env = std::getenv("KEYSTEP_TOKEN")) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty())
    return usage(
        "an admin API token is needed in KEYSTEP_TOKEN or --token-file (create one "
        "with `keystep token create`)");
  return token;
}

Result<int> digits_of(const Args& args) {
  const std::string digits = args.get("--digits").value_or("6");
  if (digits != "6" && digits != "8") return usage("--digits must be 6 or 8");
  return digits == "6" ? 6 : 8;
}

Result<KeyOptions> key_options(const Args& args) {
  KeyOptions options;
  auto digits = digits_of(args);
  if (!digits) return digits.error();
  options.digits = *digits;
  const std::string slot = args.get("--slot").value_or("2");
  if (slot != "1" && slot != "2") return usage("--slot must be 1 or 2");
  options.slot = slot == "1" ? 1 : 2;
  if (options.slot == 1 && !args.has("--force-slot-1"))
    return usage(
        "slot 1 holds the key's factory Yubico OTP credential, which is lost when it "
        "is overwritten; to do so anyway give --force-slot-1 as well");
  options.token_id = !args.has("--no-token-id");
  options.force = args.has("--force");
  options.label = args.get("--label").value_or("");
  if (auto file = args.get("--access-code-file")) {
    auto text = read_text_file(*file);
    if (!text) return text.error();
    auto code = parse_access_code(*text);
    if (!code) return usage(*file + ": " + code.error().message);
    options.access_code = *code;
  }
  return options;
}

int dry_run(const std::vector<std::string>& emails, const KeyOptions& options,
            const DeviceOpener& open_device) {
  std::optional<DeviceStatus> status;
  if (auto device = open_device()) {
    auto read = (*device)->status();
    if (!read) return fail(read.error());
    status = *read;
  } else if (device.error().code != ErrorCode::kNotFound) {
    std::cout << "(" << device.error().message << ")\n";
  }
  auto report = dry_run_report(emails.front(), options, status);
  if (!report) return fail(report.error());
  std::cout << *report;
  if (emails.size() > 1) {
    std::cout << "Then the same, one key each, for:";
    for (size_t i = 1; i < emails.size(); ++i) std::cout << " " << emails[i];
    std::cout << "\n";
  }
  return 0;
}

int cmd_yubikey(const Args& args, const DeviceOpener& open_device) {
  auto issuer = args.required("--issuer");
  if (!issuer) return fail(issuer.error());
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  if (args.has("--batch") == args.has("--user"))
    return fail(usage("give --user EMAIL for one key or --batch FILE for several"));
  if (args.has("--journal") && !args.has("--batch"))
    return fail(usage("--journal goes with --batch"));
  if (args.has("--batch") && args.has("--label"))
    return fail(usage("--label is per member in a batch: the file's second column"));
  auto options = key_options(args);
  if (!options) return fail(options.error());

  std::vector<BatchRow> rows;
  if (auto file = args.get("--batch")) {
    auto text = read_text_file(*file);
    if (!text) return fail(text.error());
    auto parsed = parse_batch(*text);
    if (!parsed) return fail(usage(*file + ": " + parsed.error().message));
    rows = std::move(*parsed);
  }
  if (args.has("--dry-run")) {
    std::vector<std::string> emails;
    for (const auto& row : rows) emails.push_back(row.email);
    if (emails.empty()) emails.push_back(*args.get("--user"));
    return dry_run(emails, *options, open_device);
  }

  auto token = api_token(args);
  if (!token) return fail(token.error());
  AdminClient api(*issuer, *account, *token);
  ConsoleOperator op;
  if (auto file = args.get("--batch")) {
    auto journal = Journal::open(args.get("--journal").value_or(*file + ".journal"));
    if (!journal) return fail(journal.error());
    return run_batch(rows, *journal, api, open_device, op, *options).ok() ? 0 : 1;
  }

  const std::string email = *args.get("--user");
  auto device = open_device();
  if (!device) return fail(device.error());
  auto member = api.member_id(email);
  if (!member) return fail(member.error());
  auto enrolled = enroll_key(**device, api, op, *member, *options);
  if (!enrolled) return fail(enrolled.error());
  std::cout << "Registered "
            << (enrolled->serial ? "YubiKey " + std::to_string(*enrolled->serial) : "the YubiKey")
            << " for " << email << " as credential " << enrolled->credential;
  if (enrolled->token_id) std::cout << " (token identifier " << *enrolled->token_id << ")";
  std::cout << "\n";
  return 0;
}

int cmd_import(const Args& args) {
  auto issuer = args.required("--issuer");
  if (!issuer) return fail(issuer.error());
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  auto format = args.required("--format");
  if (!format) return fail(format.error());
  if (*format != "privacyidea" && *format != "csv")
    return fail(usage("--format must be privacyidea or csv"));
  if (*format == "privacyidea" && !args.has("--users"))
    return fail(
        usage("--format privacyidea needs --users SERIAL_TO_EMAIL.csv (privacyIDEA's "
              "file names keys by serial only)"));
  if (*format == "csv" && (args.has("--users") || args.has("--token-id-from-serial")))
    return fail(usage("--users and --token-id-from-serial go with --format privacyidea"));
  const std::string file = *args.get("FILE");
  auto text = read_text_file(file);
  if (!text) return fail(text.error());
  Result<std::vector<ImportRow>> rows = std::vector<ImportRow>{};
  if (*format == "privacyidea") {
    auto users_text = read_text_file(*args.get("--users"));
    if (!users_text) return fail(users_text.error());
    auto users = parse_serial_users(*users_text);
    if (!users) return fail(usage(*args.get("--users") + ": " + users.error().message));
    rows = parse_privacyidea(*text, *users, args.has("--token-id-from-serial"));
  } else {
    rows = parse_import_csv(*text);
  }
  if (!rows) return fail(usage(file + ": " + rows.error().message + "; nothing was imported"));
  auto token = api_token(args);
  if (!token) return fail(token.error());
  AdminClient api(*issuer, *account, *token);
  ConsoleOperator op;
  return run_import(*rows, api, op).ok() ? 0 : 1;
}

// Where a security key's PIN comes from: the first line of --pin-file, else the terminal
// (/dev/tty, without echo), else nowhere (the registration then stops and says so).
class PinSource {
 public:
  ~PinSource() {
    OPENSSL_cleanse(pin_.data(), pin_.size());
    if (tty_ >= 0) ::close(tty_);
  }
  Status open(const Args& args) {
    if (auto file = args.get("--pin-file")) {
      auto text = read_text_file(*file);
      if (!text) return text.error();
      pin_ = text->substr(0, text->find('\n'));
      OPENSSL_cleanse(text->data(), text->size());
      if (!pin_.empty() && pin_.back() == '\r') pin_.pop_back();
      if (pin_.empty()) return usage(*file + ": the first line should be the key's PIN");
      from_file_ = true;
      return {};
    }
    tty_ = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    return {};
  }
  PinPrompt prompt() {
    if (from_file_) return [this](int) -> std::optional<std::string> { return pin_; };
    if (tty_ >= 0) return terminal_pin_prompt(tty_);
    return [this](int) -> std::optional<std::string> {
      unavailable_ = true;
      return std::nullopt;
    };
  }
  // Whether a PIN was asked for and there was no way to get one.
  bool unavailable() const { return unavailable_; }

 private:
  std::string pin_;
  bool from_file_ = false;
  int tty_ = -1;
  bool unavailable_ = false;
};

int cmd_fido2(const Args& args, const Fido2Keys& keys) {
  auto issuer = args.required("--issuer");
  if (!issuer) return fail(issuer.error());
  auto account = args.required("--account");
  if (!account) return fail(account.error());
  auto email = args.required("--user");
  if (!email) return fail(email.error());
  auto origin = origin_of(*issuer);
  if (!origin) return fail(usage("--issuer: " + origin.error().message));
  PinSource pins;
  if (auto opened = pins.open(args); !opened) return fail(opened.error());
  auto token = api_token(args);
  if (!token) return fail(token.error());
  // The key first: what the operator can fix at the desk is told before the server is asked.
  auto key = choose_fido2_key(keys, args.get("--device").value_or(""));
  if (!key) return fail(key.error());
  ConsoleOperator op;
  op.say("Using the security key " + key->path + " (" + key->manufacturer + " " + key->product +
         ")");
  AdminClient api(*issuer, *account, *token);
  auto member = api.member_id(*email);
  if (!member) return fail(member.error());
  const SecurityKeyOptions options{*origin, key->path, args.get("--label").value_or("")};
  auto enrolled = enroll_security_key(keys, api, op, *member, options, pins.prompt());
  if (!enrolled) {
    Error error = enrolled.error();
    if (pins.unavailable())
      error.message += " (the PIN is read from the terminal, or from the first line of --pin-file)";
    return fail(error);
  }
  std::cout << "Registered the security key for " << *email << " as credential " << *enrolled
            << "\n";
  return 0;
}

cli::CommandTable commands(const DeviceOpener& open_device, const Fido2Keys& fido2_keys) {
  return {
      {"yubikey",
       {"keystep-enroll yubikey --issuer URL --account NAME (--user EMAIL [--label TEXT] | "
        "--batch FILE [--journal FILE]) [--digits 6|8] [--slot 2] [--no-token-id] "
        "[--access-code-file FILE] [--force] [--dry-run] [--token-file FILE]",
        "Program the YubiKey plugged in for OATH-HOTP and register it to a member: the server "
        "draws the secret, the key is programmed, touched, and its code confirms it. --batch "
        "reads EMAIL[,LABEL] rows, one key each, and keeps a journal (FILE.journal) so a rerun "
        "goes on where it stopped. --dry-run writes nothing and prints the configuration and "
        "the equivalent ykman/ykpersonalize commands. Slot 1 (the factory Yubico OTP) also "
        "needs --force-slot-1. The API token comes from KEYSTEP_TOKEN or --token-file.",
        FlagSpec{{"--issuer", "--account", "--user", "--label", "--digits", "--slot",
                  "--access-code-file", "--batch", "--journal", "--token-file"},
                 {"--no-token-id", "--force", "--force-slot-1", "--dry-run"},
                 {}},
        [open_device](const Args& args) { return cmd_yubikey(args, open_device); }}},
      {"import",
       {"keystep-enroll import --issuer URL --account NAME --format privacyidea|csv FILE "
        "[--users SERIAL_TO_EMAIL.csv] [--token-id-from-serial] [--token-file FILE]",
        "Register YubiKeys programmed elsewhere: privacyIDEA's yubikey_mass_enroll file (with "
        "--users mapping serials to members' emails) or CSV rows "
        "EMAIL,SERIAL,KEY,DIGITS,COUNTER,TOKEN_ID. Each row is registered, skipped (already "
        "there) or refused (why).",
        FlagSpec{{"--issuer", "--account", "--format", "--users", "--token-file"},
                 {"--token-id-from-serial"},
                 {},
                 {"FILE"}},
        cmd_import}},
      {"fido2",
       {"keystep-enroll fido2 --issuer URL --account NAME --user EMAIL [--label TEXT] "
        "[--device PATH] [--pin-file FILE] [--token-file FILE]",
        "Register the FIDO2 security key plugged in (or the one at --device, when there are "
        "several) to a member: the server begins the registration, the key asks for its PIN "
        "(from the terminal, or the first line of --pin-file) when it has one, is touched, and "
        "the server verifies what it made. The API token comes from KEYSTEP_TOKEN or "
        "--token-file.",
        FlagSpec{{"--issuer", "--account", "--user", "--label", "--device", "--pin-file",
                  "--token-file"},
                 {},
                 {}},
        [fido2_keys](const Args& args) { return cmd_fido2(args, fido2_keys); }}},
  };
}

}  // namespace

int enroll_main(int argc, char** argv, const DeviceOpener& open_device,
                const Fido2Keys& fido2_keys) {
  return cli::run_command_line("keystep-enroll", commands(open_device, fido2_keys),
                               {argv + 1, argv + argc},
                               std::cout, std::cerr);
}

}  // namespace keystep::enroll
