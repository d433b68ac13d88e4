// Small original Verilog snippets used only to train the tiny model's tokenizer.
module and_gate (input a, input b, output out);
  assign out = a & b;
endmodule

module or3 (input a, input b, input c, output y);
  assign y = a | b | c;
endmodule

module xor_bus #(parameter WIDTH = 8) (
  input  [WIDTH-1:0] a,
  input  [WIDTH-1:0] b,
  output [WIDTH-1:0] y
);
  assign y = a ^ b;
endmodule

module TopModule (
  input  [3:0] in,
  output       out_and,
  output       out_or,
  output       out_xor
);
  assign out_and = &in;
  assign out_or  = |in;
  assign out_xor = ^in;
endmodule

module adder16 (
  input  [15:0] a,
  input  [15:0] b,
  input         cin,
  output [15:0] sum,
  output        cout
);
  assign {cout, sum} = a + b + cin;
endmodule

module sub8 (input [7:0] x, input [7:0] y, output [7:0] d, output borrow);
  assign {borrow, d} = {1'b0, x} - {1'b0, y};
endmodule

module mux2 #(parameter W = 4) (input [W-1:0] d0, input [W-1:0] d1, input sel, output [W-1:0] q);
  assign q = sel ? d1 : d0;
endmodule

module mux4 (
  input  [1:0] sel,
  input  [7:0] a, b, c, d,
  output reg [7:0] out
);
  always @(*) begin
    case (sel)
      2'd0: out = a;
      2'd1: out = b;
      2'd2: out = c;
      default: out = d;
    endcase
  end
endmodule

module cmp_unsigned (input [11:0] a, input [11:0] b, output lt, output eq, output gt);
  assign lt = a < b;
  assign eq = a == b;
  assign gt = a > b;
endmodule

module cmp_signed (input signed [9:0] a, input signed [9:0] b, output a_ge_b);
  assign a_ge_b = (a >= b);
endmodule

module counter_sync (
  input            clk,
  input            reset,
  input            enable,
  output reg [5:0] q
);
  always @(posedge clk) begin
    if (reset)
      q <= 6'd0;
    else if (enable)
      q <= q + 6'd1;
  end
endmodule

module counter_async_n (input clk, input rst_n, output reg [3:0] count);
  always @(posedge clk or negedge rst_n) begin
    if (!rst_n) count <= 4'b0000;
    else count <= count + 1'b1;
  end
endmodule

module down_counter (input clk, input areset, input load, input [7:0] data, output reg [7:0] q);
  always @(posedge clk or posedge areset) begin
    if (areset) q <= 8'hff;
    else if (load) q <= data;
    else q <= q - 8'd1;
  end
endmodule

module decade (input clk, input reset, output reg [3:0] q);
  always @(posedge clk)
    if (reset || q == 4'd9) q <= 4'd0;
    else q <= q + 4'd1;
endmodule

module shift_left (input clk, input reset, input din, output reg [7:0] q);
  always @(posedge clk) begin
    if (reset) q <= 8'b0;
    else q <= {q[6:0], din};
  end
endmodule

module shift_right_load (input clk, input load, input [15:0] data, input sin, output reg [15:0] q);
  always @(posedge clk)
    if (load) q <= data;
    else q <= {sin, q[15:1]};
endmodule

module rising_edge (input clk, input reset, input in, output pulse);
  reg prev;
  always @(posedge clk) begin
    if (reset) prev <= 1'b0;
    else prev <= in;
  end
  assign pulse = in & ~prev;
endmodule

module falling_edge_reg (input clk, input [7:0] in, output reg [7:0] pedge);
  reg [7:0] last;
  always @(posedge clk) begin
    last  <= in;
    pedge <= last & ~in;
  end
endmodule

module any_edge (input clk, input sig, output reg toggled);
  reg d;
  always @(posedge clk) begin
    d <= sig;
    toggled <= d ^ sig;
  end
endmodule

module seq_detect_101 (input clk, input reset, input x, output z);
  localparam S0 = 2'd0, S1 = 2'd1, S2 = 2'd2;
  reg [1:0] state, next;
  always @(*) begin
    case (state)
      S0: next = x ? S1 : S0;
      S1: next = x ? S1 : S2;
      S2: next = x ? S1 : S0;
      default: next = S0;
    endcase
  end
  always @(posedge clk) begin
    if (reset) state <= S0;
    else state <= next;
  end
  assign z = (state == S2) & x;
endmodule

module traffic (input clk, input reset, output reg [1:0] light);
  parameter GREEN = 2'b00, YELLOW = 2'b01, RED = 2'b10;
  reg [1:0] state;
  always @(posedge clk) begin
    if (reset) state <= RED;
    else begin
      case (state)
        RED:    state <= GREEN;
        GREEN:  state <= YELLOW;
        YELLOW: state <= RED;
        default: state <= RED;
      endcase
    end
  end
  always @(*) light = state;
endmodule

module parity_gen #(parameter N = 16) (input [N-1:0] data, output even, output odd);
  assign odd  = ^data;
  assign even = ~odd;
endmodule

module priority_enc (input [7:0] req, output reg [2:0] idx, output valid);
  integer i;
  always @(*) begin
    idx = 3'd0;
    for (i = 0; i < 8; i = i + 1)
      if (req[i]) idx = i[2:0];
  end
  assign valid = |req;
endmodule

module decoder3to8 (input [2:0] a, input en, output [7:0] y);
  assign y = en ? (8'b1 << a) : 8'b0;
endmodule

module dff_en (input clk, input d, input en, output reg q);
  always @(posedge clk) if (en) q <= d;
endmodule

module popcount8 (input [7:0] in, output reg [3:0] count);
  integer k;
  always @(*) begin
    count = 0;
    for (k = 0; k < 8; k = k + 1) count = count + in[k];
  end
endmodule

module mult4 (input [3:0] a, input [3:0] b, output [7:0] p);
  assign p = a * b;
endmodule

module abs_diff (input [9:0] a, input [9:0] b, output [9:0] d);
  assign d = (a > b) ? a - b : b - a;
endmodule

module reverse_bits #(parameter W = 8) (input [W-1:0] in, output [W-1:0] out);
  genvar g;
  generate
    for (g = 0; g < W; g = g + 1) begin : rev
      assign out[g] = in[W-1-g];
    end
  endgenerate
endmodule

module tb;
  reg clk = 0;
  reg [7:0] a, b;
  wire [7:0] y;
  integer errors = 0;
  always #5 clk = ~clk;
  xor_bus dut (.a(a), .b(b), .y(y));
  initial begin
    repeat (20) begin
      a = $random; b = $random;
      #1;
      if (y !== (a ^ b)) errors = errors + 1;
      @(posedge clk);
    end
    $display("Mismatches: %0d in %0d samples", errors, 20);
    $finish;
  end
endmodule
