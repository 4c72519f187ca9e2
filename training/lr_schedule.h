#pragma once
/// The learning rate over one stage (DESIGN §3.3): constant, multistep,
/// cosine or one-cycle, with an optional linear warm-up, as a pure function
/// of the (fractional) epoch so the trainer can set it every step and a
/// resumed run lands on exactly the same rate.

#include "core/train_config.h"

namespace adascale::training {

/// The rate at `epoch` (0-based and fractional: 2.5 is halfway through the
/// third epoch) of a stage of `total_epochs` epochs peaking at `base_lr`.
///  - constant: base_lr.
///  - multistep: base_lr × gamma^(number of milestones ≤ epoch).
///  - cosine: from base_lr down to base_lr × final_fraction at total_epochs.
///  - onecycle: PyTorch's OneCycleLR (anneal_strategy='cos', two phases) in
///    continuous time: a cosine rise from base_lr / div_factor to base_lr
///    over the first peak_at × total_epochs, then a cosine fall to
///    base_lr / (div_factor × final_div_factor) at total_epochs.
/// A warm-up (warmup_epochs > 0) multiplies constant, multistep and cosine
/// by a factor rising linearly from warmup_start to 1; onecycle ignores it.
/// Epochs past total_epochs hold the final rate. Throws ConfigError for
/// total_epochs ≤ 0 or an unknown type, InternalError for a negative epoch.
double scheduled_lr(const core::ScheduleConfig& s, double base_lr, double epoch,
                    double total_epochs);

}  // namespace adascale::training
