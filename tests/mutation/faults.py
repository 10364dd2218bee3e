# SPDX-License-Identifier: GPL-2.0-or-later
"""Deliberate faults in the device code of the series, for
tests/mutation/mutation-test.py: (file, text, replacement, what).  Each
text occurs exactly once in its file of the patched tree."""

CRB = "hw/tpm/tpm_crb.c"
TIS = "hw/tpm/tpm_tis_common.c"
EMU = "backends/tpm/tpm_emulator.c"
VMSTATE = "migration/vmstate-types.c"

FAULTS = [
    # the CRB state machine
    (CRB, """    s->cmd_oversize = s->cmd_size < CRB_TPM_HDR_SIZE ||
                      s->cmd_size > s->be_buffer_size;""",
     """    s->cmd_oversize = s->cmd_size < CRB_TPM_HDR_SIZE;""",
     "no oversize check on a new command"),
    (CRB, """    memset(win + n, 0, CRB_CTRL_CMD_SIZE - n);\n""", "",
     "the window's tail after a response chunk not zeroed"),
    (CRB, """            tpm_crb_chunk_abort(s, "goIdle");\n""", "",
     "goIdle keeps the chunk state"),
    (CRB, """            tpm_crb_chunk_abort(s, "cmdReady");\n""", "",
     "cmdReady keeps the chunk state"),
    (CRB, """                tpm_crb_chunk_abort(s, "cancel");""", "",
     "cancel keeps the chunk state"),
    (CRB, """            tpm_crb_chunk_abort(s, "relinquish");\n""", "",
     "relinquish keeps the chunk state"),
    (CRB, """        if (s->cmd_received >= s->cmd_size) {""",
     """        if (0) {""",
     "nextChunk accepted when the command is complete"),
    (CRB, """    uint32_t n = MIN(s->chunk_size, s->response->len - s->rsp_offset);""",
     """    uint32_t n = MIN(s->chunk_size - 1,
                     s->response->len - s->rsp_offset);""",
     "off by one in the response chunk copied to the window"),
    (CRB, """    uint32_t n = MIN(left, s->chunk_size);""",
     """    uint32_t n = MIN(left + 1, s->chunk_size);""",
     "off by one in the command bytes taken from a chunk"),
    (CRB, """    if (tpm_crb_get_active_locty(s) != locty) {""",
     """    if (tpm_crb_get_active_locty(s) != locty && 0) {""",
     "CRB_CTRL_START written from any locality"),
    (CRB, """        return;
    }
    s->rsp_offset = 0;
    tpm_crb_chunk_put_response(s);""",
     """        return;
    }
    tpm_crb_chunk_put_response(s);""",
     "crbRspRetry does not start from the first chunk"),
    (CRB, """    memset(s->response->data, 0, s->response->len);\n""", "",
     "the response buffer is not zeroed before the backend"),
    (CRB, """    if (ARRAY_FIELD_EX32(s->regs, CRB_CTRL_START, Start) ||
        s->chunk_state == CRB_CHUNK_EXECUTING) {""",
     """    if (ARRAY_FIELD_EX32(s->regs, CRB_CTRL_START, Start)) {""",
     "an executing command is known by Start alone"),
    (CRB, """    if (ret != 0 || size < CRB_TPM_HDR_SIZE || size > s->be_buffer_size) {""",
     """    if (ret != 0 || size > s->be_buffer_size) {""",
     "a backend response shorter than a header accepted"),
    (CRB, """    if (state != CRB_CHUNK_RECEIVING) {""",
     """    if (state == CRB_CHUNK_IDLE) {""",
     "Start after a response does not begin a new command"),
    (CRB, """    if (s->cmd_oversize || s->cmd_received < s->cmd_size) {""",
     """    if (s->cmd_oversize) {""",
     "Start on an incomplete command executes it"),
    (CRB, """        if (val == R_CRB_CTRL_START_Start_MASK) {""",
     """        if (val & R_CRB_CTRL_START_Start_MASK) {""",
     "without cap-chunk, Start with other bits set executes"),
    (CRB, """        ARRAY_FIELD_DP32(s->regs, CRB_CTRL_STS, tpmSts, 1);
        tpm_crb_chunk_drop(s, "backend failure");""",
     """        tpm_crb_chunk_drop(s, "backend failure");""",
     "a backend failure does not set tpmSts"),
    (CRB, """    if (!running) {
        tpm_backend_finish_sync(s->tpmbe);
    }""",
     """    if (!running) {
        (void)s;
    }""",
     "the executing command is not finished when the VM stops"),
    # CRB migration
    (CRB, """    if (!s->cap_chunk) {
        error_report("tpm-crb: a chunked transfer arrived""",
     """    if (0) {
        error_report("tpm-crb: a chunked transfer arrived""",
     "chunk state accepted by a device without cap-chunk"),
    (CRB, """    if (s->rsp_offset > rsp_len) {""", """    if (0) {""",
     "rsp_offset beyond the response accepted"),
    (CRB, """    if (rsp_len > s->be_buffer_size) {""", """    if (0) {""",
     "a response longer than max_xfer accepted"),
    (CRB, """                    tpm_cmd_get_size(s->response->data) != rsp_len)) {""",
     """                    0)) {""",
     "a response whose header size differs from its length accepted"),
    (CRB, """    if (cmd_len > size) {""", """    if (0) {""",
     "a command longer than its header accepted"),
    (CRB, """            s->chunk_state == CRB_CHUNK_RESPONDING);""",
     """            0);""",
     "RESPONDING does not migrate its state"),
    (CRB, """    if (s->chunk_state != CRB_CHUNK_RESPONDING ||
        s->rsp_offset < s->chunk_size || s->rsp_offset % s->chunk_size) {""",
     """    if (1) {""",
     "the window is not restored from the migrated response"),
    (CRB, """    if (s->regs[R_CRB_CTRL_CMD_SIZE] != s->chunk_size) {""",
     """    if (0) {""",
     "CRB_CTRL_CMD_SIZE of the stream not checked"),
    (CRB, """    if (ARRAY_FIELD_EX32(s->regs, CRB_CTRL_START, Start)) {
        error_report("tpm-crb: CRB_CTRL_START: Start is set""",
     """    if (0) {
        error_report("tpm-crb: CRB_CTRL_START: Start is set""",
     "Start set in the stream accepted"),
    (CRB, """    if (ARRAY_FIELD_EX32(s->regs, CRB_LOC_STATE, activeLocality)) {""",
     """    if (0) {""",
     "an activeLocality other than 0 in the stream accepted"),
    (CRB, """        s->cmd_oversize = s->cmd_size > s->be_buffer_size ||
                          (s->command->len == CRB_TPM_HDR_SIZE &&
                           s->cmd_size != CRB_TPM_HDR_SIZE);""",
     """        s->cmd_oversize = false;""",
     "a migrated refused command is no longer refused"),
    # TIS
    (TIS, """        if (s->rw_offset < len) {""", """        if (1) {""",
     "FIFO reads beyond the response's end"),
    (TIS, """                avail = avail > s->rw_offset ? avail - s->rw_offset : 0;""",
     """                avail = avail - s->rw_offset;""",
     "burstCount underflows past the response's end"),
    (TIS, """    s->buffer_size = s->allow_ext_buffer ? TPM_TIS_EXT_BUFFER_MAX""",
     """    s->buffer_size = s->allow_ext_buffer ? TPM_TIS_BUFFER_MAX""",
     "x-allow-ext-buffer does not enlarge the buffer"),
    (TIS, """    return tpm_tis_live_size(s) > TPM_TIS_BUFFER_MAX;""",
     """    return tpm_tis_live_size(s) > TPM_TIS_BUFFER_MAX + 1;""",
     "ext_buffer not sent for a 4097-byte transfer"),
    (TIS, """    if (s->buffer_size < TPM_TIS_BUFFER_MAX + size) {""",
     """    if (0) {""",
     "ext_buffer loaded into a 4096-byte buffer"),
    (TIS, """    return TPM_TIS_IS_VALID_LOCTY(locty) || locty == TPM_TIS_NO_LOCALITY;""",
     """    return true;""",
     "the stream's locality numbers not checked"),
    (TIS, """        if (s->loc[l].state > TPM_TIS_STATE_RECEPTION) {""",
     """        if (0) {""",
     "a locality state out of range accepted"),
    (TIS, """        if (s->loc[l].state == TPM_TIS_STATE_EXECUTION) {""",
     """        if (0) {""",
     "a locality in EXECUTION accepted"),
    (TIS, """    if (s->rw_offset > s->be_buffer_size) {""",
     """    if (s->rw_offset > s->be_buffer_size + 1) {""",
     "off by one in the rw_offset check"),
    (TIS, """    if (live > TPM_TIS_BUFFER_MAX && !s->ext_buffer_loaded) {""",
     """    if (0) {""",
     "a large transfer without its ext_buffer accepted"),
    (TIS, """            live = MAX(live, MIN(tpm_cmd_get_size(s->buffer),
                                 s->be_buffer_size));""",
     """            live = MAX(live, 0);""",
     "a large response being read does not migrate its upper half"),
    (TIS, """    s->ext_buffer_loaded = false;
    return 0;""",
     """    return 0;""",
     "pre_load does not forget an earlier ext_buffer"),
    # the emulator backend and the GByteArray field type
    (EMU, """    if (rsp_size < sizeof(struct tpm_resp_hdr) || rsp_size > out_len) {""",
     """    if (rsp_size < sizeof(struct tpm_resp_hdr)) {""",
     "a response larger than the buffer read into it"),
    (EMU, """    left = rsp_size - sizeof(struct tpm_resp_hdr);""",
     """    left = 0;""",
     "the rest of a refused response left in the data channel"),
    (VMSTATE, """    uint32_t len = qemu_get_be32(f);

    if (len > size) {""",
     """    uint32_t len = qemu_get_be32(f);

    if (0) {""",
     "a GByteArray longer than its bound loaded"),
    # faults of fixes made later (appended, so that the numbers stay)
    (TIS, """        s->loc[s->aborting_locty].state = TPM_TIS_STATE_IDLE;
        tpm_tis_sts_set(&s->loc[s->aborting_locty], 0);
""", "",
     "a locality that loses the TPM keeps the command it received"),
    (TIS, """    if (s->aborting_locty != TPM_TIS_NO_LOCALITY ||
        s->next_locty != TPM_TIS_NO_LOCALITY) {""",
     """    if (0) {""",
     "an abort in progress accepted from the stream"),
    (TIS, """                if (!tpm_tis_buffer_holds_command(s)) {""",
     """                if (!tpm_tis_buffer_holds_command(s) && 0) {""",
     "TPM_GO sends a buffer that another locality emptied"),
    (TIS, """    if (s->active_locty == 4 ||
        s->loc[4].access != TPM_TIS_ACCESS_TPM_REG_VALID_STS) {""",
     """    if (0) {""",
     "locality 4 accepted from the stream, active or requested"),
    (CRB, """    if (s->regs[R_CRB_CTRL_START]) {""",
     """    if (0) {""",
     "nextChunk or another bit of CRB_CTRL_START accepted from the stream"),
]
