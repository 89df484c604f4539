// Constructors of the check kinds, one per file in checks/ (http_check.cpp, ...).
#pragma once

#include <memory>

#include "checks/check.hpp"

namespace acis::checks {

std::unique_ptr<check> make_http_check(const config::check_config& c, const config::http_check& k,
                                       check_context ctx);
std::unique_ptr<check> make_postgres_check(const config::check_config& c,
                                           const config::postgres_check& k, check_context ctx);
std::unique_ptr<check> make_model_metadata_check(const config::check_config& c,
                                                 const config::model_metadata_check& k,
                                                 check_context ctx);
std::unique_ptr<check> make_process_check(const config::check_config& c,
                                          const config::process_check& k, check_context ctx);
std::unique_ptr<check> make_file_age_check(const config::check_config& c,
                                           const config::file_age_check& k, check_context ctx);

}  // namespace acis::checks
