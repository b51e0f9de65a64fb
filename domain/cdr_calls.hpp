#pragma once

// Calls rebuilt from a PBX's CDR rows (FreePBX: asteriskcdrdb.cdr), for the
// catch-up after a gap in the AMI stream. One call = the rows sharing a
// linkedid; its fields follow the call-record rules of the tracker
// (docs/architecture.md "Call records") as far as CDR rows can tell them:
//   - direction: the originating channel (uniqueid = linkedid) is a trunk:
//     inbound; a trunk appears in any row: outbound; the originating row
//     dialled an outside-looking number (no route, Congestion): outbound;
//     else internal;
//   - a channel is a trunk by pbx.<name>.trunks, else when its endpoint is
//     not an extension number (PJSIP/trunk-pstn-0000003a: "trunk-pstn");
//     Local/ halves are plumbing;
//   - a person answered a row when it is ANSWERED with billsec > 0 and its
//     destination is a phone (inbound, internal) or a trunk (outbound): a
//     Queue, VoiceMail or Park row answered by the PBX is no person, nor is
//     a rung phone's row that a pickup re-labelled (billsec 0);
//   - extension: inbound: the phone of the first row a person answered,
//     else the one phone that rang; outbound / internal: the calling phone;
//   - disposition: answered when a person answered, else the originating
//     channel's first row (NO ANSWER, BUSY, FAILED; a PBX-answered row:
//     no_answer);
//   - duration: first row's start to last row's end; billsec: the union of
//     the outside party's billed segments (rows naming a trunk, the PBX's
//     own answer included: queue, voicemail), so billsec keeps running
//     across transfers and parks and parallel queue legs count once; an
//     internal call bills its answered rows; talk_seconds: the union of the
//     person-answered rows.
// What CDR rows cannot tell: an unanswered click-to-call's direction and
// number (only in the Originate), a click-to-call's billsec from the
// customer's answer (its row bills from the agent's answer), the
// AMI-measured talk of multi-segment calls (a later segment's billsec
// includes the new phone's ringing, an attended transfer's consultation is
// billed but no talk).

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "messages/calls.hpp"

namespace sb {

/// One row of the CDR table, its times in UTC.
struct cdr_record {
  /// `calldate` (the row's start), converted from the PBX's local time.
  unix_micros start = 0;
  std::string clid;
  std::string src;
  std::string dst;
  std::string dcontext;
  std::string channel;
  std::string dstchannel;
  std::string lastapp;
  std::string lastdata;
  int64_t duration = 0;
  int64_t billsec = 0;
  /// "ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION".
  std::string disposition;
  std::string uniqueid;
  std::string linkedid;
  int64_t sequence = 0;
  std::string did;
  std::string recordingfile;
};

/// The calls of `rows` (any order, several calls mixed), one per linkedid,
/// in order of their first row; source "ami", origin = pbx.name, recovered
/// "cdr", recording and recording_url (pbx.recording_url with {file}) from
/// the rows' recordingfile.
std::vector<completed_call> calls_from_cdr(std::vector<cdr_record> rows,
                                           const pbx_config& pbx);

/// `recording_template` with every `{file}` replaced by `file`; "" when
/// either is empty.
std::string recording_url_of(const std::string& recording_template,
                             const std::string& file);

} // namespace sb
