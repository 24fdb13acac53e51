package shop;
public class App { public static void main(String[] a) {} }
