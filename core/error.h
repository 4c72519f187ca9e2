#pragma once
/// The one error hierarchy of AdaScale. Library code throws these; only
/// `main()` catches them, prints `what()` as one line and exits non-zero.
/// Bad *input* (a file, a key, a value the user gave) is a typed error below;
/// a broken *invariant* is an InternalError.

#include <stdexcept>
#include <string>

namespace adascale {

/// Base of every error AdaScale throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A config file, key or `--set` override is wrong.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A dataset file or directory is missing, truncated or malformed.
class DataError : public Error {
 public:
  using Error::Error;
};

/// A filesystem operation failed (open, write, rename, mkdir).
class IoError : public Error {
 public:
  using Error::Error;
};

/// The command line is wrong (an unknown option, a bad value).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// An internal invariant broke: a bug in AdaScale, not in the input.
class InternalError : public Error {
 public:
  using Error::Error;
};

/// A run stopped on request (Ctrl-C) after saving its state; not a failure
/// of the input, so binaries exit with the conventional status 130.
class Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace adascale
